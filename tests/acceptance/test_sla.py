"""SLAs as a user meets them: `digpy run` of workflows with `sla:` and `_sla`, and the
`digpy_notify_sla` hook. The late task in each workflow waits for the file its SLA task writes, so
a test takes as long as the SLA and never sleeps."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest

from digpy.core.engine.local import LocalRunOptions, run_local
from digpy.core.plugin_manager import load_registry
from digpy.core.spi import hookimpl
from digpy.core.testing import _Collect
from tests.acceptance.test_server import wait_done
from tests.conftest import Server, wait_until

WAIT_FOR_LATE = "for i in $(seq 600); do [ -f late ] && exit 0; sleep 0.05; done; exit 1"


def test_a_workflow_over_its_sla_runs_the_sla_tasks_and_succeeds(project):
    project.write("wf.dig", f"""sla:
  duration: 00:00:01
  +notice:
    sh>: echo "late on $session_date" && touch late
+slow:
  sh>: '{WAIT_FOR_LATE}'
+after:
  echo>: after
""")
    result = project.run("wf", "--session", "2026-04-01")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["late on 2026-04-01", "after"]
    assert "[WARNING] SLA missed: +wf did not finish within 00:00:01\n" in result.stderr
    assert "+wf^sla+notice: sh>:" in result.stderr


def test_fail_true_fails_the_run_after_its_running_tasks_end(project):
    project.write("wf.dig", f"""sla:
  duration: 1s
  fail: true
  +notice:
    sh>: touch late
+slow:
  sh>: '{WAIT_FOR_LATE}'
+after:
  echo>: still runs
""")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "still runs\n"
    assert "SLA missed: +wf did not finish within 1s (the attempt will fail)" in result.stderr
    assert "  * +wf^sla:\n    SLA missed: +wf did not finish within 1s\n" in result.stderr


def test_a_task_over_its_sla_sets_off_its_own_sla_tasks(project):
    project.write("wf.dig", f"""+quick:
  echo>: quick
  _sla: 1h
+slow:
  _sla:
    duration: 1s
    +told:
      sh>: echo "${{task_name}}" && touch late
  sh>: '{WAIT_FOR_LATE}'
""")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "quick\n+wf+slow^sla+told\n"
    assert result.stderr.count("SLA missed") == 1
    assert "SLA missed: +wf+slow did not finish within 1s" in result.stderr


def test_an_attempt_in_time_misses_nothing(project):
    project.write("wf.dig", "sla:\n  duration: 01:00:00\n  +notice:\n    echo>: late\n+a:\n  echo>: in time\n")
    result = project.run("wf")
    assert (result.returncode, result.stdout) == (0, "in time\n")
    assert "SLA" not in result.stderr


def test_the_sla_hook_is_told_of_each_alert_and_not_of_alert_false(tmp_path):
    seen = []

    class Watcher:
        __name__ = "watcher"

        @hookimpl
        def digpy_notify_sla(self, miss):
            seen.append(miss)

    (tmp_path / "wf.dig").write_text(f"""timezone: Asia/Tokyo
sla:
  duration: 1s
+quiet:
  _sla:
    duration: 1s
    alert: false
    +mark:
      sh>: touch late
  sh>: '{WAIT_FOR_LATE}'
""")
    result = run_local(tmp_path, LocalRunOptions(workflow="wf", session="2026-04-01"), _Collect(),
                       registry=load_registry(extra=(Watcher(),)))
    assert result.success
    [miss] = seen
    assert (miss.project, miss.workflow, miss.session_time, miss.attempt_id, miss.task, miss.message, miss.fail) == (
        tmp_path.name, "wf", "2026-04-01T00:00:00+09:00", result.attempt_id, "+wf", "+wf did not finish within 1s",
        False)
    assert miss.deadline.endswith("+09:00")


@pytest.mark.parametrize("executor", ["in-process", "executor-process"])
def test_a_server_alerts_missed_slas_and_failures_by_mail_and_webhook(executor, tmp_path, smtp, receiver):
    """A real `digpy server` (its executor in its own process, or in an executor child that gets
    the notifiers from it) with a real SMTP server and a real webhook receiver."""
    port, inbox = smtp
    late = tmp_path / "late"
    project = tmp_path / "etl"
    project.mkdir()
    (project / "slow.dig").write_text(f"""timezone: Asia/Tokyo
sla:
  duration: 00:00:01
  +notice:
    sh>: touch {late}
+wait:
  sh>: 'for i in $(seq 600); do [ -f {late} ] && exit 0; sleep 0.05; done; exit 1'
""")
    (project / "broken.dig").write_text("+load:\n  fail>: disk full\n")
    extra = ("--notify-webhook", receiver.url + "/digpy", "--notify-webhook-header", "X-Token: s3cret",
             "--notify-mail-to", "ops@example.test", "--notify-mail-from", "digpy@example.test",
             "--notify-mail-host", "127.0.0.1", "--notify-mail-port", str(port), "--no-notify-mail-tls")
    if executor == "executor-process":
        extra += ("--executor-processes", "1")
    server = Server(tmp_path / "server", None, extra)
    server.start()
    try:
        assert server.digpy("push", "etl", "--project", str(project)).returncode == 0
        slow = json.loads(server.digpy("start", "etl", "slow", "--session", "2026-04-01", "--json").stdout)["id"]
        assert server.digpy("start", "etl", "broken", "--session", "2026-04-01").returncode == 0
        wait_until(lambda: len(receiver.requests) == 2 and len(inbox.messages) == 2, timeout=60,
                   what="two notifications by webhook and by mail")
        attempt = wait_done(server, slow)
        tasks = server.digpy("tasks", slow, "--json")
    finally:
        server.stop()
    bodies = sorted(receiver.json_bodies(), key=lambda b: b["event"])
    assert [(b["event"], b["message"], b["workflow_name"]) for b in bodies] == [
        ("attempt_failed", "attempt failed", "broken"), ("sla_missed", "SLA violation", "slow")]
    assert bodies[1]["task_name"] == "+slow" and bodies[1]["session_time"] == "2026-04-01T00:00:00+09:00"
    assert bodies[1]["attempt_id"] == int(slow) and attempt["status"] == "success"
    assert bodies[0]["failures"] == [{"task_name": "+broken+load", "message": "disk full"}]
    assert {headers["X-Token"] for _path, headers, _body in receiver.requests} == {"s3cret"}
    subjects = sorted(message_from_bytes(raw, policy=policy.default)["Subject"] for _s, _r, raw in inbox.messages)
    assert subjects == ["[digpy] SLA missed: etl/slow", "[digpy] etl/broken failed (group_error)"]
    states = {t["full_name"]: t["state"] for t in json.loads(tasks.stdout)}
    assert states["+slow^sla"] == states["+slow^sla+notice"] == states["+slow"] == "success"
