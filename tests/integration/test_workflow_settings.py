"""A workflow's own `retention:` and its schedule's `skip_if_successful` on real SQLite and PostgreSQL
databases, with time injected: the prune's `now`, the scheduler's steps, and the attempts' times."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import update

from digpy.core.store import catalog, retention, schema
from digpy.core.store.retention import RetentionPolicy
from digpy.core.workflow.tree import compile_workflow
from digpy.server.logs import LogStore
from digpy.server.scheduler import Scheduler
from digpy.server.services import schedules as scheduling
from digpy.server.services.retention import prune

DAY = 86400.0
NOW = time.time() + 1000 * DAY  # every session was created long before this


def push(store, workflows: dict[str, dict], *, revision: str = "r1", now: float | None = None) -> int:
    with store.begin() as conn:
        row = catalog.put_revision(conn, project="p", revision=revision, archive=b"", workflows=[
            compile_workflow(name, {"+a": {"echo>": "x"}, **config}) for name, config in workflows.items()])
        if now is not None:
            scheduling.sync(conn, int(row["id"]), catalog.list_workflows(conn, int(row["id"]), revision), now)
        return int(row["id"])


def attempt(store, workflow: str, session_time: int, *, created: float | None = None, finished: float | None = None,
            success: bool = True) -> int:
    """An attempt of a new session, created (and finished) at these times if given."""
    record = store.session_for(store.ensure_project("p"), workflow, session_time)
    made = store.create_attempt(record, timezone="UTC", params={})
    if finished is not None:
        store.finish_attempt(made.id, success=success, canceled=False)
    values = {k: v for k, v in {"created_at": created, "finished_at": finished}.items() if v is not None}
    if values:
        with store.begin() as conn:
            conn.execute(update(schema.attempts).where(schema.attempts.c.id == made.id).values(**values))
    return made.id


def remaining(store) -> dict[str, list[int]]:
    with store.begin() as conn:
        rows = conn.execute(schema.sessions.select().order_by(schema.sessions.c.session_time)).all()
    out: dict[str, list[int]] = {}
    for row in rows:
        out.setdefault(row.workflow_name, []).append(row.session_time)
    return out


def test_a_workflow_s_retention_takes_the_place_of_the_server_s_key_by_key(store, tmp_path):
    push(store, {"short": {"retention": {"age": "5d"}}, "long": {"retention": {"age": "60d"}},
                 "few": {"retention": {"sessions": 1}}, "plain": {}})
    ago = {"short": (40, 20, 1), "long": (40, 20, 1), "few": (2, 3, 1), "plain": (40, 20, 1)}
    for workflow, days in ago.items():
        for session_time, finished in enumerate(days, start=1):
            attempt(store, workflow, session_time, finished=NOW - finished * DAY)
    attempt(store, "short", 0)  # unfinished, the oldest session time: never removed
    attempt(store, "other", 9, finished=NOW)  # the highest ids stay whatever the policy
    server = RetentionPolicy(max_age=30 * DAY)
    with store.begin() as conn:
        policies = {w.workflow_name: w.policy for w in retention.workflow_policies(conn, server)}
    assert policies == {"few": RetentionPolicy(30 * DAY, 1), "long": RetentionPolicy(60 * DAY, None),
                        "short": RetentionPolicy(5 * DAY, None)}
    pruned = prune(store, LogStore(tmp_path / "logs"), server, now=NOW, batch=1)
    assert remaining(store) == {"short": [0, 3], "long": [1, 2, 3], "few": [3], "plain": [2, 3], "other": [9]}
    assert pruned.sessions == 2 + 2 + 1
    push(store, {"short": {}, "plain": {"retention": {"sessions": 1}}}, revision="r2")
    with store.begin() as conn:  # only the latest revision's settings count
        assert [w.workflow_name for w in retention.workflow_policies(conn, RetentionPolicy())] == ["plain"]
    assert prune(store, LogStore(tmp_path / "logs"), RetentionPolicy(), now=NOW).sessions == 1
    assert remaining(store)["plain"] == [3] and remaining(store)["long"] == [1, 2, 3]


def epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_skip_if_successful_passes_a_slot_over_when_the_newest_run_since_the_previous_slot_succeeded(store):
    push(store, {"wf": {"schedule": {"daily>": "07:00:00", "skip_if_successful": True}}},
         now=epoch("2026-03-01T05:00:00"))
    scheduler = Scheduler(store)
    assert scheduler.step(epoch("2026-03-01T07:00:01")) == 1, "nothing ran since the slot before"
    with store.begin() as conn:
        [scheduled] = catalog.list_attempts(conn, include_retried=True, page_size=10)
    store.finish_attempt(int(scheduled["id"]), success=True, canceled=False)
    attempt(store, "wf", 1, created=epoch("2026-03-01T12:00:00"), finished=epoch("2026-03-01T12:01:00"))
    assert scheduler.step(epoch("2026-03-02T07:00:01")) == 0, "a manual run succeeded since 03-01 07:00"
    attempt(store, "wf", 2, created=epoch("2026-03-02T10:00:00"), finished=epoch("2026-03-02T10:01:00"))
    attempt(store, "wf", 3, created=epoch("2026-03-02T11:00:00"), finished=epoch("2026-03-02T11:01:00"),
            success=False)
    assert scheduler.step(epoch("2026-03-03T07:00:01")) == 1, "the newest manual run failed"
    with store.begin() as conn:
        for row in catalog.list_attempts(conn, include_retried=True, page_size=10):
            if not row["state_flags"] & 2:
                store.finish_attempt(int(row["id"]), success=True, canceled=False)
    assert scheduler.step(epoch("2026-03-04T07:00:01")) == 1, "the schedule's own success does not count"
