"""What the client commands print for a real server's attempts: logs in the order the tasks ran,
params as JSON."""

from __future__ import annotations

import json

from tests.acceptance.test_server import wait_done, write_project


def test_log_prints_task_logs_in_the_order_the_tasks_ran(server, tmp_path):
    # Names sort as a, m, z; the tasks run z, a, m (and the group's children in their order).
    project = write_project(tmp_path / "order", {
        "order.dig": "+z:\n  echo>: ran first\n+a:\n  echo>: ran second\n"
                     "+m:\n  +y:\n    echo>: ran third\n  +b:\n    echo>: ran fourth\n",
    })
    assert server.digpy("push", "order", "--project", str(project)).returncode == 0
    attempt = json.loads(server.digpy("start", "order", "order", "--session", "2026-01-31", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "success"
    log = server.digpy("log", attempt["id"])
    assert log.returncode == 0, log.stderr
    ran = [line for line in log.stdout.splitlines() if line.startswith("ran ")]
    assert ran == ["ran first", "ran second", "ran third", "ran fourth"]
    only_m = [line for line in server.digpy("log", attempt["id"], "+order+m").stdout.splitlines()
              if line.startswith("ran ")]
    assert only_m == ["ran third", "ran fourth"]


def test_attempt_shows_params_as_json(server, tmp_path):
    project = write_project(tmp_path / "p", {"p.dig": "+a:\n  echo>: ${a} ${n.x}\n"})
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    started = server.digpy("start", "p", "p", "--session", "2026-01-31", "-p", "a=1", "-p", "n.x=é")
    assert started.returncode == 0, started.stderr
    assert '  params:       {"a": "1", "n": {"x": "é"}}\n' in started.stdout


def test_session_json_prints_the_session_and_its_attempts(server, tmp_path):
    project = write_project(tmp_path / "p", {"p.dig": "+a:\n  echo>: x\n"})
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "p", "--session", "2026-01-31", "--json").stdout)
    wait_done(server, attempt["id"])
    shown = server.digpy("session", attempt["session_id"], "--json")
    assert shown.returncode == 0, shown.stderr
    printed = json.loads(shown.stdout)
    assert printed["session"]["id"] == attempt["session_id"] and printed["session"]["workflow_name"] == "p"
    assert printed["session"]["last_attempt"]["status"] == "success"
    assert [a["id"] for a in printed["attempts"]] == [attempt["id"]]
