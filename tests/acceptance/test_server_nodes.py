"""Several `digpy server` nodes on one database: each attempt runs on exactly one node, and a node
whose lease was taken over stops the attempt without writing it again."""

from __future__ import annotations

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from tests.acceptance.test_server import api, write_project
from tests.conftest import Server, empty_postgres, wait_until

DONE = 2  # the attempt's state flag (digpy.core.store.DONE)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.postgres
def test_two_nodes_on_one_database_run_every_attempt_exactly_once(postgres_url, tmp_path):
    """150 attempts wait in the database; two nodes start at once and race for them (a node runs at
    most 100 at a time). Each attempt's one task appends its id to a file: every id once."""
    empty_postgres(postgres_url)
    runs = tmp_path / "runs.txt"
    project = write_project(tmp_path / "p", {"wf.dig": f"+append:\n  sh>: echo ${{attempt_id}} >> {runs}\n"})
    front = Server(tmp_path / "front", postgres_url, ("--disable-executor",))
    nodes = [Server(tmp_path / name, postgres_url) for name in ("node-a", "node-b")]
    try:
        front.start()
        assert front.digpy("push", "p", "--project", str(project)).returncode == 0
        project_id = api(front, "GET", "/api/projects?name=p")[1]["projects"][0]["id"]
        workflow_id = api(front, "GET", f"/api/projects/{project_id}/workflows/wf")[1]["id"]
        base = datetime(2026, 1, 1, tzinfo=UTC)

        def start(i: int) -> str:
            body = {"workflowId": workflow_id, "sessionTime": (base + timedelta(hours=i)).isoformat()}
            status, attempt = api(front, "PUT", "/api/attempts", json.dumps(body).encode())
            assert status == 200, attempt
            return attempt["id"]

        with ThreadPoolExecutor(8) as pool:
            ids = list(pool.map(start, range(150)))
        assert not runs.exists(), "no node runs yet"

        for node in nodes:
            node.launch()
        for node in nodes:
            wait_until(node.ready, timeout=30, what=f"the node on port {node.port}")

        def attempts() -> list[dict]:
            return api(front, "GET", "/api/attempts?page_size=1000")[1]["attempts"]

        wait_until(lambda: all(a["done"] for a in attempts()), timeout=120, what="every attempt to end")
        assert {a["id"]: a["status"] for a in attempts()} == {i: "success" for i in ids}
        assert sorted(runs.read_text().split()) == sorted(ids), "every attempt ran once, none twice"

        def finished() -> list[list[str]]:  # logged by each node once the attempt's end is stored
            return [re.findall(r"attempt (\d+) of wf finished: success", node.log.read_text()) for node in nodes]

        wait_until(lambda: sum(map(len, finished())) >= len(ids), what="the nodes to log every attempt's end")
        assert sorted(finished()[0] + finished()[1]) == sorted(ids), "each attempt finished on one node only"
        print(f"attempts run by each node: {[len(f) for f in finished()]}")
    finally:
        for server in (*nodes, front):
            server.stop()


def _database(server: Server):
    return create_engine(server.database or f"sqlite:///{server.data_dir / 'digpy.db'}")


@pytest.mark.slow
def test_a_node_whose_attempt_was_taken_over_stops_it_and_writes_nothing_more(server, tmp_path):
    """The node runs +a (waits for a file) and +b (a long command) at once; another node takes the
    attempt over in the database; then +a ends. The node's write of that is refused: it stops +b's
    command, starts nothing (+c, after +a) and leaves the attempt to the node that holds it."""
    go, pid_file, c_ran = tmp_path / "go", tmp_path / "b.pid", tmp_path / "c-ran"
    project = write_project(tmp_path / "p", {"wf.dig": (
        "+work:\n  _parallel: true\n"
        f"  +first:\n    +a:\n      sh>: while [ ! -f {go} ]; do sleep 0.02; done\n"
        f"    +c:\n      sh>: touch {c_ran}\n"
        f"  +b:\n    sh>: echo $$$$ > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; exec sleep 120\n"
    )})
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    attempt_id = int(json.loads(server.digpy("start", "p", "wf", "--json").stdout)["id"])
    database = _database(server)
    try:
        def query(sql: str, **params):
            with database.begin() as conn:
                result = conn.execute(text(sql), {"a": attempt_id, **params})
                return result.all() if result.returns_rows else []

        def tasks() -> list[tuple]:
            return [tuple(r) for r in query("SELECT id, full_name, state, updated_at, error FROM tasks "
                                            "WHERE attempt_id = :a ORDER BY id")]

        def running(name: str) -> bool:
            return any(n == name and state == 4 for _, n, state, _, _ in tasks())  # 4: running

        wait_until(lambda: pid_file.exists() and running("+wf+work+first+a"), what="+a and +b to run")
        pid = int(pid_file.read_text())
        (owner, expires), = query("SELECT lease_owner, lease_expires_at FROM attempts WHERE id = :a")
        assert owner is not None
        # Right after the node renews its lease, 5 seconds pass before it renews again: the takeover
        # below is then found by the write, not by the renewal.
        wait_until(lambda: query("SELECT lease_expires_at FROM attempts WHERE id = :a")[0][0] != expires,
                   timeout=20, what="the node to renew its lease")
        query("UPDATE attempts SET lease_owner = 'other-node', lease_expires_at = :t WHERE id = :a",
              t=time.time() + 3600)
        before = tasks()
        go.touch()

        wait_until(lambda: f"attempt {attempt_id} was taken over by another node; stopped here"
                   in server.log.read_text(), what="the node to stop the attempt")
        wait_until(lambda: gone(pid), what="+b's command to be stopped")
        assert tasks() == before, "the node wrote no task state after losing the attempt"
        (flags, finished_at, owner), = query("SELECT state_flags, finished_at, lease_owner FROM attempts "
                                             "WHERE id = :a")
        assert (flags & DONE, finished_at, owner) == (0, None, "other-node")
        assert not c_ran.exists(), "+c, ready once +a ended, was never started"
        # Only that line: no warning about the tasks it was about to start, no traceback.
        assert [line for line in server.log.read_text().splitlines()[1:]] == [
            line for line in server.log.read_text().splitlines() if "was taken over" in line]
    finally:
        database.dispose()


def test_a_server_with_executor_processes_runs_attempts_in_its_children_and_stops_them(database_url, tmp_path):
    """--executor-processes 1: the API answers from the server's process, attempts run in a child
    (woken at once, not at its next poll), and the child goes when the server goes."""
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    # Its child looks for attempts by itself only every 10 minutes: this one runs because it is woken.
    node = Server(tmp_path / "node", url, ("--executor-processes", "1"), env={"DIGPY_EXECUTOR_IDLE_SECONDS": "600"})
    try:
        node.start()
        project = write_project(tmp_path / "p", {"wf.dig": "+who:\n  sh>: echo ran in $PPID\n"})
        assert node.digpy("push", "p", "--project", str(project)).returncode == 0
        started = node.digpy("start", "p", "wf", "--session", "2026-01-01", "--json")
        assert started.returncode == 0, started.stderr
        attempt_id = json.loads(started.stdout)["id"]
        wait_until(lambda: api(node, "GET", f"/api/attempts/{attempt_id}")[1]["done"], timeout=120,
                   what="the attempt to end (the child woken, not left to its poll)")
        assert api(node, "GET", f"/api/attempts/{attempt_id}")[1]["status"] == "success"
        log = node.digpy("log", attempt_id).stdout
        runner_pid = int(re.search(r"ran in (\d+)", log).group(1))  # the sh> command's parent: the executor
        assert runner_pid != node.process.pid, "the attempt ran in a child process, not the server's"
        assert not gone(runner_pid)
        assert node.stop() == 0
        wait_until(lambda: gone(runner_pid), timeout=30, what="the executor process to stop with the server")
    finally:
        node.stop()


@pytest.mark.slow
def test_a_pushed_schedule_fires_on_the_real_server_and_is_managed_from_the_cli(server, tmp_path):
    """`seconds_interval>: 1`: sessions start by themselves, one per slot, with the schedule's
    built-ins; `digpy disable` stops them and `digpy enable` goes on from now."""
    project = write_project(tmp_path / "p", {"wf.dig": "schedule:\n  seconds_interval>: 1\n"
                                                      "+a:\n  echo>: ${session_time} after ${last_session_time}\n"})
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0

    def session_times() -> list[str]:
        return sorted(s["sessionTime"] for s in api(server, "GET", "/api/sessions")[1]["sessions"])

    wait_until(lambda: len(session_times()) >= 3, timeout=30, what="three scheduled sessions")
    first = session_times()[:3]
    seconds = [datetime.fromisoformat(t).timestamp() for t in first]
    assert seconds == [seconds[0], seconds[0] + 1, seconds[0] + 2], "one session per slot, none twice"
    listed = server.digpy("schedules")
    assert listed.returncode == 0 and "wf" in listed.stdout
    assert server.digpy("disable", "p").returncode == 0
    stopped = len(session_times())
    assert server.digpy("enable", "p", "wf").returncode == 0
    wait_until(lambda: len(session_times()) > stopped + 1, timeout=30, what="sessions after enable")
    attempts = api(server, "GET", "/api/attempts?page_size=1000")[1]["attempts"]
    wait_until(lambda: all(a["done"] for a in api(server, "GET", "/api/attempts?page_size=1000")[1]["attempts"]),
               what="the attempts to end")
    log = server.digpy("log", attempts[-1]["id"]).stdout
    assert f"{first[0]} after " in log, "scheduled sessions get their schedule's built-ins"
