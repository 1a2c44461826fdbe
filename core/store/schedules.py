"""Schedules in the server's database: one row per scheduled workflow of a project.

Each function takes a Connection and never commits: the caller owns the transaction. A scheduler
node takes a due schedule with a row lock (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so nodes never
wait for each other) and moves it on with a compare-and-set on its `next_run_time`, in the same
transaction that starts the slot's attempt: two nodes never start one slot, and a node that dies
mid-step leaves the schedule as it was for another to take.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, Connection, and_, bindparam, delete, func, insert, or_, select, update

from digpy.core.errors import NotFound
from digpy.core.store import schema as s

_COLUMNS = (s.schedules, s.projects.c.name.label("project_name"), s.workflow_definitions.c.timezone,
            s.workflow_definitions.c.config, s.workflow_definitions.c.queue_name,
            s.workflow_definitions.c.max_active_attempts)


def _query() -> Any:
    return (select(*_COLUMNS)
            .join(s.projects, s.projects.c.id == s.schedules.c.project_id)
            .join(s.workflow_definitions, s.workflow_definitions.c.id == s.schedules.c.workflow_definition_id))


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def get(conn: Connection, schedule_id: int) -> dict[str, Any]:
    row = conn.execute(_query().where(s.schedules.c.id == schedule_id)).first()
    if row is None:
        raise NotFound(f"schedule {schedule_id} not found")
    return _row(row)


def list_schedules(conn: Connection, *, project_id: int | None = None, workflow: str | None = None,
                   last_id: int | None = None, count: int = 100) -> list[dict[str, Any]]:
    query = _query()
    if project_id is not None:
        query = query.where(s.schedules.c.project_id == project_id)
    if workflow is not None:
        query = query.where(s.schedules.c.workflow_name == workflow)
    if last_id is not None:
        query = query.where(s.schedules.c.id > last_id)
    return [_row(r) for r in conn.execute(query.order_by(s.schedules.c.id).limit(count))]


def last_sessions(conn: Connection, rows: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """The session each schedule started last (its `last_session_time`), by schedule id: its id and
    its last attempt's id (those that still exist)."""
    wanted = {(r["project_id"], r["workflow_name"], r["last_session_time"]): int(r["id"])
              for r in rows if r["last_session_time"] is not None}
    if not wanted:
        return {}
    sessions = s.sessions.c
    query = select(sessions.id, sessions.project_id, sessions.workflow_name, sessions.session_time,
                   sessions.last_attempt_id).where(or_(*(
                       and_(sessions.project_id == p, sessions.workflow_name == w, sessions.session_time == t)
                       for p, w, t in wanted)))
    return {wanted[(r.project_id, r.workflow_name, r.session_time)]: dict(r._mapping) for r in conn.execute(query)}


def of_project(conn: Connection, project_id: int) -> dict[str, dict[str, Any]]:
    """A project's schedules by workflow name."""
    rows = conn.execute(select(s.schedules).where(s.schedules.c.project_id == project_id)).all()
    return {r._mapping["workflow_name"]: dict(r._mapping) for r in rows}


def put(conn: Connection, *, project_id: int, workflow_name: str, definition_id: int, next_run_time: float,
        next_schedule_time: int, existing: dict[str, Any] | None) -> None:
    """Create a workflow's schedule, or point an existing one at a new definition and next slot
    (its `last_session_time` and `disabled_at` stay)."""
    now = time.time()
    values = {"workflow_definition_id": definition_id, "next_run_time": next_run_time,
              "next_schedule_time": next_schedule_time, "updated_at": now}
    if existing is None:
        conn.execute(insert(s.schedules).values(project_id=project_id, workflow_name=workflow_name,
                                                created_at=now, **values))
    else:
        conn.execute(update(s.schedules).where(s.schedules.c.id == existing["id"]).values(**values))


def remove(conn: Connection, schedule_ids: Sequence[int]) -> None:
    if schedule_ids:
        conn.execute(delete(s.schedules).where(s.schedules.c.id.in_(list(schedule_ids))))


def remove_project(conn: Connection, project_id: int) -> None:
    conn.execute(delete(s.schedules).where(s.schedules.c.project_id == project_id))


def take_due(conn: Connection, now: float, limit: int) -> list[dict[str, Any]]:
    """Enabled schedules whose next slot is due, oldest first, locked for this transaction
    (PostgreSQL skips those another node holds)."""
    query = (_query().where(s.schedules.c.next_run_time <= now, s.schedules.c.disabled_at.is_(None))
             .order_by(s.schedules.c.next_run_time).limit(limit))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=s.schedules, skip_locked=True)
    return [_row(r) for r in conn.execute(query)]


def take(conn: Connection, schedule_id: int, now: float) -> dict[str, Any] | None:
    """One schedule, if it is still due and enabled, locked for this transaction (PostgreSQL: None
    if another node holds it)."""
    query = _query().where(s.schedules.c.id == schedule_id, s.schedules.c.next_run_time <= now,
                           s.schedules.c.disabled_at.is_(None))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=s.schedules, skip_locked=True)
    row = conn.execute(query).first()
    return _row(row) if row else None


class Move(NamedTuple):
    """A schedule (its row as taken) moved on to its next slot; `last_session_time`: the session it
    started, if any."""

    schedule: dict[str, Any]
    next_run_time: float
    next_schedule_time: int
    last_session_time: int | None


_MOVE = (update(s.schedules)
         .where(s.schedules.c.id == bindparam("b_id"), s.schedules.c.next_run_time == bindparam("b_run"),
                s.schedules.c.next_schedule_time == bindparam("b_session"))
         .values(next_run_time=bindparam("run"), next_schedule_time=bindparam("session"),
                 last_session_time=func.coalesce(bindparam("last", type_=BigInteger),
                                                 s.schedules.c.last_session_time),
                 updated_at=bindparam("now")))


def move_all(conn: Connection, moves: Sequence[Move]) -> int:
    """Move schedules on from the slots they were at, in one statement (PostgreSQL: one pipelined
    round trip); a compare-and-set on each: returns how many moved (fewer: another node moved one)."""
    if not moves:
        return 0
    now = time.time()
    done = conn.execute(_MOVE, [
        {"b_id": m.schedule["id"], "b_run": m.schedule["next_run_time"], "b_session": m.schedule["next_schedule_time"],
         "run": m.next_run_time, "session": m.next_schedule_time, "last": m.last_session_time, "now": now}
        for m in moves])
    return int(done.rowcount)


def set_disabled(conn: Connection, schedule_id: int, disabled: bool) -> None:
    conn.execute(update(s.schedules).where(s.schedules.c.id == schedule_id).values(
        disabled_at=time.time() if disabled else None, updated_at=time.time()))


def next_due(conn: Connection) -> float | None:
    """When the earliest enabled schedule is due (None: no schedule)."""
    found = conn.execute(select(func.min(s.schedules.c.next_run_time)).where(
        s.schedules.c.disabled_at.is_(None))).scalar()
    return None if found is None else float(found)
