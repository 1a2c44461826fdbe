"""Queues as a user meets them: real `digpy server` processes (SQLite and PostgreSQL) with `--queue`,
workflows with `queue:` and `max_active_attempts:`, the CLI and the REST API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.test_server import api, attempt_state, wait_done, write_project
from tests.conftest import Server, empty_postgres, wait_until

# A task that appends its session date to `runs` and waits for the file go-DATE.
WAITING_TASK = "+work:\n  sh>: echo ${{session_date}} >> {runs}; while [ ! -f {go}-${{session_date}} ]; do sleep 0.02; done\n"


@pytest.fixture
def queue_server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """A server whose queue `db` lets one attempt run at a time."""
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    running = Server(tmp_path / "server", url, ("--queue", "db=1"))
    running.start()
    yield running
    running.stop()


def start(server: Server, workflow: str, day: str, *options: str) -> dict:
    started = server.digpy("start", "p", workflow, "--session", f"2026-01-{day}", *options, "--json")
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)


def statuses(server: Server) -> dict[str, str]:
    return {a["id"]: a["status"] for a in api(server, "GET", "/api/attempts")[1]["attempts"]}


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_attempts_over_the_queues_limit_wait_as_queued_and_start_in_order(queue_server, tmp_path):
    server, runs, go = queue_server, tmp_path / "runs", tmp_path / "go"
    write_project(tmp_path / "p", {"wf.dig": "queue: db\n" + WAITING_TASK.format(runs=runs, go=go)})
    assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
    first, second, third = (start(server, "wf", day) for day in ("01", "02", "03"))
    assert [first["status"], second["status"], third["status"]] == ["queued"] * 3, "each waits to be admitted"
    wait_until(lambda: lines(runs) == ["2026-01-01"], what="the first attempt to run")
    assert statuses(server) == {first["id"]: "running", second["id"]: "queued", third["id"]: "queued"}
    rest = api(server, "GET", f"/api/attempts/{second['id']}")[1]
    assert (rest["queued"], rest["queue"], rest["done"], rest["status"]) == (True, "db", False, "queued")
    shown = server.digpy("attempt", second["id"]).stdout
    assert "  status:       queued\n  queue:        db\n" in shown, shown
    table = server.digpy("attempts").stdout.splitlines()
    assert [line.split()[0] for line in table if " queued " in line] == [third["id"], second["id"]], table
    session = api(server, "GET", f"/api/sessions/{second['session_id']}")[1]
    assert session["lastAttempt"]["status"] == "queued"

    killed = server.digpy("kill", third["id"])
    assert killed.returncode == 0 and "killed without running" in killed.stderr
    assert attempt_state(server, third["id"])["status"] == "killed"

    (tmp_path / "go-2026-01-01").touch()
    wait_until(lambda: lines(runs) == ["2026-01-01", "2026-01-02"], what="the second attempt to start")
    # Started by hand past the queue: it runs at once, and counts against the queue while it runs.
    bypass = start(server, "wf", "04", "--no-queue")
    assert bypass["status"] == "running"
    wait_until(lambda: "2026-01-04" in lines(runs), what="the attempt that bypassed the queue to run")
    waiting = start(server, "wf", "05")
    (tmp_path / "go-2026-01-02").touch()
    wait_done(server, second["id"])
    assert statuses(server)[waiting["id"]] == "queued", "the bypassing attempt holds the queue's one place"
    (tmp_path / "go-2026-01-04").touch()
    wait_until(lambda: "2026-01-05" in lines(runs), what="the last attempt to start")
    (tmp_path / "go-2026-01-05").touch()
    assert wait_done(server, waiting["id"])["status"] == "success"
    assert lines(runs) == ["2026-01-01", "2026-01-02", "2026-01-04", "2026-01-05"], "the killed one never ran"
    assert api(server, "GET", f"/api/attempts/{third['id']}/tasks")[1]["tasks"] == []


def test_a_workflows_max_active_attempts_and_bypassing_it_over_the_api(server, tmp_path):
    runs, go = tmp_path / "runs", tmp_path / "go"
    write_project(tmp_path / "p", {"wf.dig": "max_active_attempts: 1\n" + WAITING_TASK.format(runs=runs, go=go),
                                   "other.dig": "+a:\n  echo>: other\n"})
    assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
    first, second = start(server, "wf", "01"), start(server, "wf", "02")
    wait_until(lambda: lines(runs) == ["2026-01-01"], what="the first attempt to run")
    assert statuses(server)[second["id"]] == "queued"
    assert wait_done(server, start(server, "other", "01")["id"])["status"] == "success", "other workflows run"

    body = {"workflowId": first["workflow_id"], "sessionTime": "2026-01-03T00:00:00Z", "bypassQueue": True}
    status, third = api(server, "PUT", "/api/attempts", json.dumps(body).encode())
    assert (status, third["status"], third["queued"]) == (200, "running", False)
    status, error = api(server, "PUT", "/api/attempts", json.dumps({**body, "bypassQueue": "yes"}).encode())
    assert (status, error["message"]) == (400, 'bypassQueue must be true or false, got "yes"')
    for day in ("01", "03"):
        (tmp_path / f"go-2026-01-{day}").touch()
    wait_until(lambda: "2026-01-02" in lines(runs), what="the queued attempt to start")
    (tmp_path / "go-2026-01-02").touch()
    assert wait_done(server, second["id"])["status"] == "success"


def test_a_queue_the_server_does_not_have_is_refused_at_push(queue_server, tmp_path):
    write_project(tmp_path / "p", {"wf.dig": "timezone: UTC\nqueue: dbb\n+a:\n  echo>: a\n"})
    pushed = queue_server.digpy("push", "p", "--project", str(tmp_path / "p"))
    assert pushed.returncode != 0
    assert pushed.stderr.strip() == "error: wf.dig:2:8: queue 'dbb' is not configured on this server; its queues: db"
    assert api(queue_server, "GET", "/api/projects")[1]["projects"] == [], "nothing was stored"


def test_queue_options_on_the_command_line_and_in_the_config_file(tmp_path):
    config = tmp_path / "server.yml"
    config.write_text("queues:\n  db: 2\n  etl: 1\n")
    server = Server(tmp_path / "server", None, ("-c", str(config), "--queue", "db=1", "--queue", "ml=3"))
    write_project(tmp_path / "p", {f"{name}.dig": f"queue: {name}\n+a:\n  echo>: a\n" for name in ("db", "etl", "ml")})
    try:
        server.start()
        assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0, "all three are known"
    finally:
        server.stop()
    bad_file = tmp_path / "bad.yml"
    bad_file.write_text("queue:\n  db: 0\n")  # the option's own name is a key too
    for options, message in [
        (("-c", str(bad_file)), f"error: {bad_file}: queue: the limit of queue 'db' must be a whole number >= 1, got 0"),
        (("--queue", "db"), "error: --queue must be NAME=LIMIT (a config file: queues: {NAME: LIMIT}), got ['db']"),
        (("--queue", "db=0"), "error: --queue: the limit of queue 'db' must be a whole number >= 1, got '0'"),
        (("--queue", "a b=1"), "error: --queue: the name must be a queue name, got 'a b'; letters, digits, _ . and - "
                               "(not first), at most 255 characters"),
    ]:
        bad = Server(tmp_path / "bad", None, options)
        bad.launch()
        assert bad.process.wait(60) == 2
        assert bad.log.read_text().strip().splitlines()[-1] == message
        bad.log.unlink()


def test_executor_processes_admit_within_the_servers_queues(tmp_path):
    """The queues reach the server's executor processes: db lets two run at a time, not one."""
    runs, go = tmp_path / "runs", tmp_path / "go"
    server = Server(tmp_path / "server", None, ("--executor-processes", "1", "--queue", "db=2"))
    write_project(tmp_path / "p", {"wf.dig": "queue: db\n" + WAITING_TASK.format(runs=runs, go=go)})
    try:
        server.start()
        assert server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
        attempts = [start(server, "wf", day) for day in ("01", "02", "03")]
        wait_until(lambda: sorted(lines(runs)) == ["2026-01-01", "2026-01-02"], what="two attempts to run")
        assert statuses(server)[attempts[2]["id"]] == "queued"
        for day in ("01", "02", "03"):
            (tmp_path / f"go-2026-01-{day}").touch()
        assert wait_done(server, attempts[2]["id"])["status"] == "success"
    finally:
        server.stop()


def test_a_required_workflow_in_the_same_full_queue_does_not_wait_for_its_requirer(queue_server, tmp_path):
    write_project(tmp_path / "p", {"main.dig": "queue: db\n+need:\n  require>: prep\n+use:\n  echo>: used\n",
                                   "prep.dig": "queue: db\n+p:\n  echo>: prepared\n"})
    assert queue_server.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
    main = start(queue_server, "main", "01")
    assert wait_done(queue_server, main["id"], timeout=30)["status"] == "success"


@pytest.mark.slow
@pytest.mark.postgres
def test_two_nodes_on_one_database_keep_a_queues_limit_and_its_order(postgres_url, tmp_path):
    """30 attempts wait in queue db (limit 2) before two executor nodes start at once and race to
    admit them. Each attempt's task logs its start and end: never more than two run at a time, each
    runs once, and the oldest start first (an attempt starts when every older one has, but the one
    admitted with it)."""
    empty_postgres(postgres_url)
    log = tmp_path / "log"
    write_project(tmp_path / "p", {"wf.dig": (
        f"queue: db\n+work:\n  sh>: echo start ${{attempt_id}} >> {log}; sleep 0.1; echo end ${{attempt_id}} >> {log}\n")})
    front = Server(tmp_path / "front", postgres_url, ("--disable-executor", "--queue", "db=2"))
    nodes = [Server(tmp_path / name, postgres_url, ("--queue", "db=2")) for name in ("node-a", "node-b")]
    try:
        front.start()
        assert front.digpy("push", "p", "--project", str(tmp_path / "p")).returncode == 0
        workflow_id = start(front, "wf", "01")["workflow_id"]
        for day in range(2, 31):
            body = {"workflowId": workflow_id, "sessionTime": f"2026-01-{day:02d}T00:00:00Z"}
            assert api(front, "PUT", "/api/attempts", json.dumps(body).encode())[0] == 200
        ids = sorted(statuses(front), key=int)
        assert len(ids) == 30 and set(statuses(front).values()) == {"queued"}
        for node in nodes:
            node.launch()
        wait_until(lambda: set(statuses(front).values()) == {"success"}, timeout=120, what="every attempt to end")
    finally:
        for server in (*nodes, front):
            server.stop()
    events = [line.split() for line in log.read_text().splitlines()]
    running: set[str] = set()
    started: list[str] = []
    for event, attempt_id in events:
        if event == "start":
            running.add(attempt_id)
            assert len(running) <= 2, f"more than two at once: {sorted(running)}"
            older = ids[:ids.index(attempt_id)]
            assert len(set(older) - set(started)) <= 1, f"{attempt_id} started before older ones: {events}"
            started.append(attempt_id)
        else:
            running.remove(attempt_id)
    assert sorted(started, key=int) == ids, "each attempt ran once"
