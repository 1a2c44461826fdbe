"""Dagu's history and schedule settings as a user meets them, on real servers over SQLite and
PostgreSQL: `histRetentionDays` / `histRetentionRuns` (the engine's `retention:`) pruned by `digpy
prune` and by the server's own retention pass, and `skipIfSuccessful` (the schedule's
`skip_if_successful`) passing a slot over after a manual run, with the scheduler's time injected."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.acceptance.test_server import api, wait_done, write_project
from tests.conftest import Server, empty_postgres, wait_until

DAY = 86400


def database(server: Server) -> str:
    return server.database or f"sqlite:///{server.data_dir / 'digpy.db'}"


@pytest.fixture
def quiet_server(tmp_path: Path, database_url: str) -> Iterator[Server]:
    """A server on the test's database whose own scheduler is off (the test steps one, with its clock)."""
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    running = Server(tmp_path / "server", url, ("--disable-scheduler",))
    running.start()
    yield running
    running.stop()


def start(server: Server, workflow: str, session: str | None = None) -> str:
    args = ["start", "hist", workflow, "--json", *(["--session", session] if session else [])]
    started = server.digpy(*args)
    assert started.returncode == 0, started.stderr
    return str(json.loads(started.stdout)["id"])


def finished(server: Server, attempt_ids: list[str]) -> dict[str, str]:
    """Wait until these attempts are done (one request per look): their statuses by id."""
    def statuses() -> dict[str, str]:
        _, listed = api(server, "GET", "/api/attempts?include_retried=true&page_size=1000")
        return {a["id"]: a["status"] for a in listed["attempts"] if a["id"] in attempt_ids and a["done"]}  # type: ignore[index]

    wait_until(lambda: len(statuses()) == len(attempt_ids), timeout=60, what=f"attempts {attempt_ids}")
    return statuses()


def sessions_of(server: Server, workflow: str) -> list[str]:
    listed = json.loads(server.digpy("sessions", "hist", workflow, "--json").stdout)
    return sorted(s["session_time"][:10] for s in listed)


def age(server: Server, workflows: list[str], days: float) -> None:
    """Make the sessions of these workflows, and their attempts, `days` older (time moved on)."""
    engine = create_engine(database(server))
    shift = days * DAY
    names = ", ".join(f"'{w}'" for w in workflows)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE sessions SET created_at = created_at - {shift} WHERE workflow_name IN ({names})"))
        conn.execute(text(f"UPDATE attempts SET created_at = created_at - {shift}, finished_at = finished_at - {shift}"
                          f" WHERE workflow_name IN ({names})"))
    engine.dispose()


PROJECT = {
    "days.yaml": "histRetentionDays: 3\nsteps:\n  - name: a\n    command: echo a\n",
    "runs.yaml": "histRetentionRuns: 2\nsteps:\n  - name: a\n    command: echo a\n",
    "plain.yaml": "steps:\n  - name: a\n    command: echo a\n",
    "held.dig": "retention:\n  age: 3d\n+wait:\n  sh>: sleep 300\n",
}


def push_history(server: Server, tmp_path: Path) -> list[str]:
    """Four finished sessions each of days, runs and plain, and a running attempt of held (its
    session older than the newest, its attempt not the newest): the attempt ids of held's."""
    project = write_project(tmp_path / "hist", PROJECT)
    pushed = server.digpy("push", "hist", "--project", str(project))
    assert pushed.returncode == 0, pushed.stderr
    held = [start(server, "held", "2026-01-01"), start(server, "held", "2026-01-02")]
    wait_until(lambda: all(json.loads(server.digpy("tasks", a, "--json").stdout) for a in held),
               what="the held attempts to run")
    assert server.digpy("kill", held[1]).returncode == 0
    assert wait_done(server, held[1])["status"] == "killed"
    ids = [start(server, w, f"2026-01-0{d}") for w in ("days", "runs", "plain") for d in range(1, 5)]
    assert set(finished(server, ids).values()) == {"success"}
    return held


def test_hist_retention_prunes_only_its_workflow_s_old_sessions_and_never_a_running_one(quiet_server, tmp_path):
    server = quiet_server
    held = push_history(server, tmp_path)
    dry = server.digpy("prune", *server.database_options(), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would remove 2 sessions, 2 attempts,"), "runs: all but the newest 2; days: none old"
    age(server, ["days", "plain", "held"], 10)  # ten days pass for all but runs
    pruned = server.digpy("prune", *server.database_options())
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("Removed 5 sessions, 5 attempts,"), pruned.stdout
    assert sessions_of(server, "days") == ["2026-01-04"]  # the newest session of a workflow always stays
    assert sessions_of(server, "runs") == ["2026-01-03", "2026-01-04"]
    assert sessions_of(server, "plain") == [f"2026-01-0{d}" for d in range(1, 5)]  # no retention of its own
    assert sessions_of(server, "held") == ["2026-01-01", "2026-01-02"], "running (and the newest) stay"
    assert json.loads(server.digpy("attempt", held[0], "--json").stdout)["status"] == "running"
    assert server.digpy("kill", held[0]).returncode == 0
    wait_done(server, held[0])


def test_a_server_applies_a_workflow_s_retention_by_itself(tmp_path, database_url):
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    server = Server(tmp_path / "server", url, ("--retention-interval", "1s", "--disable-scheduler"))
    server.start()
    try:
        project = write_project(tmp_path / "hist", {"runs.yaml": PROJECT["runs.yaml"],
                                                    "plain.yaml": PROJECT["plain.yaml"]})
        assert server.digpy("push", "hist", "--project", str(project)).returncode == 0
        started = [start(server, w, f"2026-01-0{d}") for w in ("plain", "runs") for d in range(1, 5)]
        assert wait_done(server, started[-1])["status"] == "success"  # the others may be gone before they are seen
        wait_until(lambda: sessions_of(server, "runs") == ["2026-01-03", "2026-01-04"], timeout=30,
                   what="the server's retention pass to keep runs' newest two sessions")
        assert sessions_of(server, "plain") == [f"2026-01-0{d}" for d in range(1, 5)]
    finally:
        server.stop()
    removed = re.findall(r"retention: removed (\d+) sessions", server.log.read_text())
    assert sum(int(n) for n in removed) == 2


def test_skip_if_successful_passes_over_a_slot_after_a_manual_run(quiet_server, tmp_path):
    from digpy.core.store.server import ServerStore
    from digpy.server.scheduler import Scheduler

    server = quiet_server
    daily = 'schedule: "0 0 * * *"\nsteps:\n  - name: a\n    command: echo a\n'
    project = write_project(tmp_path / "hist", {"skip.yaml": "skipIfSuccessful: true\n" + daily, "plain.yaml": daily})
    pushed_at = datetime.now(UTC)
    assert server.digpy("push", "hist", "--project", str(project)).returncode == 0
    manual = [start(server, "skip"), start(server, "plain")]  # since today's midnight
    assert set(finished(server, manual).values()) == {"success"}
    if datetime.now(UTC).date() != pushed_at.date():
        pytest.skip("midnight passed during the test: the slots moved")
    tomorrow = datetime.combine(pushed_at.date() + timedelta(days=1), datetime.min.time(), UTC).timestamp()
    store = ServerStore.open(database(server))
    try:
        scheduler = Scheduler(store)
        assert scheduler.step(tomorrow + 1) == 1, "plain's slot starts; skip's is passed over"
        assert len(sessions_of(server, "skip")) == 1 and len(sessions_of(server, "plain")) == 2
        assert scheduler.step(tomorrow + DAY + 1) == 2, "the day after, no manual run: both start"
        everyone = [a["id"] for a in json.loads(server.digpy("attempts", "--json").stdout)]
        assert set(finished(server, everyone).values()) == {"success"}
        assert scheduler.step(tomorrow + 2 * DAY + 1) == 2, "a scheduled run never makes the next slot skip"
    finally:
        store.close()


@pytest.mark.parametrize(("setting", "most"), [("maxCleanUpTimeSec: 1\n", 4), ("", None)])
def test_max_clean_up_time_is_how_long_a_stopped_command_has_before_sigkill(project, setting, most):
    """A command that ignores SIGTERM is killed at its timeout (1 s) plus the grace: 1 s with
    maxCleanUpTimeSec: 1, else the engine's 5 s (Dagu's default too)."""
    project.write("stop.yaml", setting + """\
type: graph
steps:
  - name: stubborn
    command: date +%s > started; trap '' TERM; sleep 60
    timeoutSec: 1
    continueOn: {failure: true}
  - name: after
    depends: stubborn
    command: echo "$(( $(date +%s) - $(cat started) ))"
""")
    result = project.run("stop")
    waited = int(result.stdout.strip().splitlines()[-1])
    assert (waited <= most) if most else (waited >= 6), result.stdout
