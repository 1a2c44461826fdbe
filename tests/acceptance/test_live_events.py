"""Server-sent events of a real server: a task's change reaches an open stream at once, whether the
attempt runs in the server's process, in an executor process (SQLite: the data-version feed;
PostgreSQL: LISTEN/NOTIFY), and streams end when what they follow is over."""

from __future__ import annotations

import json
import time

import pytest

from tests.acceptance.test_server import wait_done, write_project
from tests.conftest import Server, empty_postgres
from tests.sse import EventStream, task_states

WAITING = "+wf+wait"


def _waiting_project(tmp_path, marker):
    return write_project(tmp_path / "p", {
        "wf.dig": f"+wait:\n  sh>: echo waiting; while [ ! -f {marker} ]; do sleep 0.02; done; echo released\n"
                  "+after:\n  echo>: after\n"})


@pytest.fixture(params=["in-process", "executor-process", pytest.param("postgres", marks=pytest.mark.postgres)])
def live_server(request, tmp_path):
    """A server whose attempts run in its own process, in an executor process (SQLite), or in an
    executor process on PostgreSQL."""
    database = None
    extra: tuple[str, ...] = ()
    if request.param != "in-process":
        extra = ("--executor-processes", "1")
    if request.param == "postgres":
        database = request.getfixturevalue("postgres_url")
        empty_postgres(database)
    running = Server(tmp_path / "server", database, extra)
    running.start()
    yield running
    running.stop()


def test_a_tasks_change_reaches_an_open_stream_at_once(live_server, tmp_path):
    marker = tmp_path / "go"
    assert live_server.digpy("push", "p", "--project", str(_waiting_project(tmp_path, marker))).returncode == 0
    attempt = json.loads(live_server.digpy("start", "p", "wf", "--json").stdout)
    stream = EventStream(f"{live_server.endpoint}/api/attempts/{attempt['id']}/events")
    try:
        assert stream.content_type.startswith("text/event-stream")
        first = stream.next()
        assert first is not None and first[0] == "attempt" and first[1]["status"] == "running"
        snapshot = stream.next()
        assert snapshot is not None and snapshot[0] == "snapshot"
        if task_states(snapshot[1]).get(WAITING) != "running":
            stream.wait_for(lambda e, d: task_states(d).get(WAITING) == "running", what="the task running")
        released = time.monotonic()
        marker.touch()
        _, _, arrived = stream.wait_for(lambda e, d: task_states(d).get(WAITING) == "success",
                                        what="the task's success")
        assert arrived - released < 1.5, f"the change took {arrived - released:.2f} s to arrive"
        stream.wait_for(lambda e, d: e == "attempt" and d["status"] == "success", what="the attempt's success",
                        seen=True)
        stream.wait_for(lambda e, d: e == "end", what="the end of the stream")
        assert stream.next(10) is None, "the stream ends with the attempt"
    finally:
        stream.close()


def test_a_finished_attempt_streams_its_tasks_once_and_ends(server, tmp_path):
    project = write_project(tmp_path / "p", {"wf.dig": "+a:\n  echo>: a\n+b:\n  echo>: b\n"})
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
    wait_done(server, attempt["id"])
    stream = EventStream(f"{server.endpoint}/api/attempts/{attempt['id']}/events")
    names = [stream.next()[0] for _ in range(3)]
    assert names == ["attempt", "snapshot", "end"]
    assert task_states(stream.seen[1][1]) == {"+wf": "success", "+wf+a": "success", "+wf+b": "success"}
    assert stream.next(10) is None


def test_attempts_that_start_and_end_reach_the_stream_of_every_attempt(server, tmp_path):
    marker = tmp_path / "go"
    assert server.digpy("push", "p", "--project", str(_waiting_project(tmp_path, marker))).returncode == 0
    stream = EventStream(f"{server.endpoint}/api/events")
    try:
        assert stream.next()[0] == "ready"
        attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
        stream.wait_for(lambda e, d: any(a["id"] == attempt["id"] and a["status"] == "running" for a in d.get("attempts", [])),
                        what="the new attempt")
        marker.touch()
        stream.wait_for(lambda e, d: any(a["id"] == attempt["id"] and a["status"] == "success" for a in d.get("attempts", [])),
                        what="its end", seen=True)
    finally:
        stream.close()


def test_a_log_streams_while_its_task_runs_and_ends_with_the_attempt(server, tmp_path):
    marker = tmp_path / "go"
    assert server.digpy("push", "p", "--project", str(_waiting_project(tmp_path, marker))).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "wf", "--json").stdout)
    name = "+wf+wait.log"
    from tests.conftest import wait_until

    wait_until(lambda: name in server.digpy("log", attempt["id"]).stdout or
               (tmp_path / "server" / "logs" / attempt["id"] / name).exists(), what="the log file")
    stream = EventStream(f"{server.endpoint}/api/logs/{attempt['id']}/files/%2Bwf%2Bwait.log/events?offset=0")
    try:
        stream.wait_for(lambda e, d: e == "text" and "waiting" in d["text"], what="the first line")
        marker.touch()
        stream.wait_for(lambda e, d: e == "text" and "released" in d["text"], what="the line after the release")
        _, end, _ = stream.wait_for(lambda e, d: e == "end", what="the end")
        assert end["offset"] == (tmp_path / "server" / "logs" / attempt["id"] / name).stat().st_size
    finally:
        stream.close()


def test_streams_answer_errors_as_json_before_they_open(server):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server.endpoint}/api/attempts/424242/events", timeout=10)
    assert caught.value.code == 404
    assert json.loads(caught.value.read()) == {"message": "attempt 424242 not found", "status": 404}


def test_open_streams_end_when_the_server_stops(tmp_path):
    running = Server(tmp_path / "server", None)
    running.start()
    try:
        marker = tmp_path / "go"
        assert running.digpy("push", "p", "--project", str(_waiting_project(tmp_path, marker))).returncode == 0
        attempt = json.loads(running.digpy("start", "p", "wf", "--json").stdout)
        streams = [EventStream(f"{running.endpoint}/api/attempts/{attempt['id']}/events"),
                   EventStream(f"{running.endpoint}/api/events")]
        for stream in streams:
            assert stream.next() is not None
        began = time.monotonic()
        assert running.stop() == 0
        assert time.monotonic() - began < 15, "the server does not wait for open streams to close"
        for stream in streams:
            while stream.next(10) is not None:
                pass
    finally:
        running.stop()
