"""The server's scheduler on a real database (SQLite and PostgreSQL), driven by an injected clock:
slots start once, downtime catches up by policy, overlap, pushes keep schedule state, two nodes
never start one slot twice, backfill and skip."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from digpy.core.store import QUEUED, catalog, queues, schedules
from digpy.core.store.server import ServerStore
from digpy.core.workflow.tree import compile_workflow
from digpy.server.scheduler import Scheduler
from digpy.server.services import schedules as scheduling


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def push(store: ServerStore, config: dict, *, now: float, name: str = "wf", revision: str = "r1",
         project: str = "p") -> int:
    with store.begin() as conn:
        row = catalog.put_revision(conn, project=project, revision=revision, archive=b"",
                                   workflows=[compile_workflow(name, {"+a": {"echo>": "x"}, **config})])
        scheduling.sync(conn, int(row["id"]), catalog.list_workflows(conn, int(row["id"]), revision), now)
        return int(row["id"])


def sessions(store: ServerStore) -> list[str]:
    with store.begin() as conn:
        rows = catalog.list_attempts(conn, include_retried=True, page_size=1000)
    return sorted(datetime.fromtimestamp(r["session_time"], UTC).strftime("%m-%d %H:%M") for r in rows)


def the_schedule(store: ServerStore) -> dict:
    with store.begin() as conn:
        return schedules.list_schedules(conn)[0]


def test_a_due_slot_starts_one_session_and_the_schedule_moves_to_the_next(store):
    push(store, {"schedule": {"daily>": "07:00:00"}}, now=epoch("2026-03-01T05:00:00"))
    scheduler = Scheduler(store)
    assert the_schedule(store)["next_run_time"] == epoch("2026-03-01T07:00:00")
    assert scheduler.step(epoch("2026-03-01T06:59:59")) == 0, "not due yet"
    assert scheduler.step(epoch("2026-03-01T07:00:01")) == 1
    assert scheduler.step(epoch("2026-03-01T07:00:02")) == 0, "a slot starts once"
    assert sessions(store) == ["03-01 00:00"]
    after = the_schedule(store)
    assert (after["next_run_time"], after["last_session_time"]) == (epoch("2026-03-02T07:00:00"),
                                                                    epoch("2026-03-01T00:00:00"))
    assert scheduler.next_due() == epoch("2026-03-02T07:00:00")


def test_a_listed_schedule_says_what_it_follows_and_links_the_session_it_started_last(store):
    push(store, {"timezone": "Asia/Tokyo", "schedule": {"daily>": "07:00:00"}}, now=epoch("2026-03-01T05:00:00"))
    listed = scheduling.list_schedules(store)[0]
    assert (listed["schedule"], listed["timezone"]) == ({"daily>": "07:00:00"}, "Asia/Tokyo")
    assert (listed["lastSessionId"], listed["lastAttempt"]) == (None, None)
    Scheduler(store).step(epoch("2026-03-02T00:00:00"))  # 09:00 in Tokyo
    listed = scheduling.get(store, int(listed["id"]))
    with store.begin() as conn:
        started = catalog.list_attempts(conn)[0]
    assert listed["lastSessionTime"] == "2026-03-02T00:00:00+09:00"
    assert listed["lastSessionId"] == str(started["session_id"])
    assert (listed["lastAttempt"]["id"], listed["lastAttempt"]["status"]) == (str(started["id"]), "running")


@pytest.mark.parametrize(("catch_up", "started"), [
    ("latest", ["03-04 00:00"]),
    ("all", ["03-01 00:00", "03-02 00:00", "03-03 00:00", "03-04 00:00"]),
    ("none", []),
])
def test_a_server_down_for_three_days_catches_up_by_the_schedules_policy(store, catch_up, started):
    push(store, {"schedule": {"daily>": "07:00:00", "catch_up": catch_up}}, now=epoch("2026-03-01T05:00:00"))
    Scheduler(store).step(epoch("2026-03-04T09:00:00"))
    assert sessions(store) == started
    assert the_schedule(store)["next_run_time"] == epoch("2026-03-05T07:00:00"), "the next slot is tomorrow's"


def test_overlap_skip_passes_a_slot_over_while_an_attempt_runs_and_wait_chains_it(store):
    push(store, {"schedule": {"hourly>": "00:00", "overlap": "skip"}}, now=epoch("2026-03-01T00:30:00"))
    scheduler = Scheduler(store)
    scheduler.step(epoch("2026-03-01T01:00:01"))
    scheduler.step(epoch("2026-03-01T02:00:01"))  # the first attempt never ended: no executor here
    assert sessions(store) == ["03-01 01:00"]
    push(store, {"schedule": {"hourly>": "00:00", "overlap": "wait"}}, now=epoch("2026-03-01T02:30:00"),
         revision="r2")
    scheduler.step(epoch("2026-03-01T03:00:01"))
    with store.begin() as conn:
        rows = catalog.list_attempts(conn, include_retried=True, page_size=10)
    newest, oldest = rows[0], rows[-1]
    assert newest["after_attempt_id"] == oldest["id"], "it runs once the unfinished attempt ends"
    with store.begin() as conn:
        claimed = catalog.claim_attempts(conn, owner="n", lease_seconds=5, limit=10)
    assert int(oldest["id"]) in claimed and int(newest["id"]) not in claimed, "not taken before that one ends"


def test_a_slot_started_late_keeps_its_run_time_for_its_sla(store):
    push(store, {"schedule": {"daily>": "07:00:00"}, "sla": {"duration": "01:00:00"}},
         now=epoch("2026-03-01T05:00:00"))
    Scheduler(store).step(epoch("2026-03-01T09:30:00"))  # the server was down at 07:00
    with store.begin() as conn:
        [attempt] = catalog.list_attempts(conn, include_retried=True, page_size=10)
        attempt = catalog.get_attempt(conn, int(attempt["id"]))
    assert attempt["run_time"] == epoch("2026-03-01T07:00:00"), "its SLA counts from 07:00, as in Digdag"
    assert attempt["created_at"] > attempt["run_time"]


def test_a_scheduled_session_of_a_limited_workflow_waits_in_its_queue(store):
    push(store, {"schedule": {"hourly>": "00:00"}, "max_active_attempts": 1}, now=epoch("2026-03-01T00:30:00"))
    scheduler = Scheduler(store)
    scheduler.step(epoch("2026-03-01T01:00:01"))
    scheduler.step(epoch("2026-03-01T02:00:01"))
    with store.begin() as conn:
        rows = catalog.list_attempts(conn, include_retried=True, page_size=10)
        assert [r["state_flags"] & QUEUED for r in rows] == [QUEUED, QUEUED]
        assert queues.admit(conn, lambda name: 1) == [int(rows[-1]["id"])], "the older one first, the other waits"


def test_a_new_revision_keeps_the_state_moves_to_the_new_pattern_and_removes_unscheduled(store):
    push(store, {"schedule": {"daily>": "07:00:00"}}, now=epoch("2026-03-01T05:00:00"))
    Scheduler(store).step(epoch("2026-03-01T07:00:01"))
    push(store, {"schedule": {"hourly>": "30:00"}}, now=epoch("2026-03-01T08:00:00"), revision="r2")
    moved = the_schedule(store)
    assert moved["last_session_time"] == epoch("2026-03-01T00:00:00")
    assert moved["next_schedule_time"] == epoch("2026-03-01T01:00:00"), "next after the last session, new pattern"
    push(store, {}, now=epoch("2026-03-01T08:00:00"), revision="r3")
    with store.begin() as conn:
        assert schedules.list_schedules(conn) == []


def test_enabling_a_disabled_schedule_passes_over_what_it_missed_unless_asked(store):
    push(store, {"schedule": {"hourly>": "00:00", "catch_up": "all"}}, now=epoch("2026-03-01T00:30:00"))
    schedule_id = int(the_schedule(store)["id"])
    scheduling.set_enabled(store, schedule_id, False)
    assert Scheduler(store).step(epoch("2026-03-01T05:00:01")) == 0
    scheduling.set_enabled(store, schedule_id, True, now=epoch("2026-03-01T05:30:00"))
    assert the_schedule(store)["next_run_time"] == epoch("2026-03-01T06:00:00")
    scheduling.set_enabled(store, schedule_id, False)
    scheduling.set_enabled(store, schedule_id, True, catch_up=True)
    assert the_schedule(store)["next_run_time"] == epoch("2026-03-01T06:00:00"), "from where it stopped"


@pytest.mark.parametrize("database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_two_nodes_stepping_at_once_start_each_slot_once(store, database_url):
    """Several nodes share a PostgreSQL database (SQLite serves one node)."""
    push(store, {"schedule": {"minutes_interval>": 1, "catch_up": "all"}}, now=epoch("2026-03-01T00:00:00"))
    for i in range(1, 20):
        push(store, {"schedule": {"minutes_interval>": 1, "catch_up": "all"}}, now=epoch("2026-03-01T00:00:00"),
             project=f"p{i}")
    other = ServerStore.open(database_url)
    try:
        nodes = [Scheduler(store), Scheduler(other)]
        gate = threading.Barrier(2)
        counts: list[int] = []

        def node(scheduler: Scheduler) -> None:
            gate.wait()
            counts.append(scheduler.step(epoch("2026-03-01T00:05:30")))

        threads = [threading.Thread(target=node, args=(n,)) for n in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(counts) == 20 * 6, f"every slot of 20 schedules once: {counts}"
        with store.begin() as conn:
            rows = catalog.list_attempts(conn, include_retried=True, page_size=1000)
        keys = [(r["project_id"], r["session_time"]) for r in rows]
        assert len(keys) == len(set(keys)) == 120
    finally:
        other.close()


def test_backfill_chains_its_attempts_and_a_dry_run_only_lists(store):
    push(store, {"schedule": {"daily>": "07:00:00"}}, now=epoch("2026-03-10T05:00:00"))
    schedule_id = int(the_schedule(store)["id"])
    listed = scheduling.backfill(store, schedule_id, from_time="2026-03-01", attempt_name="bf", dry_run=True)
    assert len(listed["sessionTimes"]) == 9 and listed["attempts"] == []  # 03-01 .. 03-09
    made = scheduling.backfill(store, schedule_id, from_time="2026-03-01T00:00:00", attempt_name="bf", count=4,
                               parallel=2)
    with store.begin() as conn:
        rows = {int(r["id"]): r for r in catalog.list_attempts(conn, include_retried=True, page_size=100)}
    ids = [int(a["id"]) for a in made["attempts"]]
    assert [rows[i]["after_attempt_id"] for i in ids] == [None, None, ids[0], ids[1]], "two chains, in order"


def test_skip_moves_on_by_count_or_to_a_time_and_never_back(store):
    push(store, {"schedule": {"daily>": "07:00:00"}}, now=epoch("2026-03-01T05:00:00"))
    schedule_id = int(the_schedule(store)["id"])
    moved = scheduling.skip(store, schedule_id, count=2)
    assert moved["nextScheduleTime"] == "2026-03-03T00:00:00+00:00"
    moved = scheduling.skip(store, schedule_id, next_time="2026-03-10T00:00:00")
    assert moved["nextScheduleTime"] == "2026-03-10T00:00:00+00:00" and moved["nextRunTime"] == "2026-03-10T07:00:00Z"
    from digpy.core.errors import Conflict

    with pytest.raises(Conflict, match="later only"):
        scheduling.skip(store, schedule_id, next_time="2026-03-05T00:00:00")


def test_an_idle_scheduler_sleeps_until_the_next_slot(store):
    push(store, {"schedule": {"daily>": "07:00:00"}}, now=time.time())
    scheduler = Scheduler(store)
    assert scheduler.step() == 0
    assert scheduler.next_due() > time.time() + 1, "nothing is due: the loop sleeps until then (or a wake-up)"
