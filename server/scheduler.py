"""The scheduler: starts the sessions of due schedule slots.

Each step takes the due schedules (`next_run_time` at or before now, enabled) and, for each, in a
transaction of its own: decides with the schedule's `catch_up` policy which slot to start and which
missed slots to pass over (digpy.core.workflow.schedule.plan_tick), applies its `overlap` policy
(run; skip while an attempt of the workflow is unfinished; wait: start it after that attempt) and
`skip_if_successful` (pass the slot over when a run since the previous slot succeeded),
creates the session's attempt, and moves the schedule on with a compare-and-set — so a slot is
started once however many nodes run a scheduler, and a node that dies mid-step leaves the schedule
for another. Between steps the scheduler sleeps until the earliest next slot (no polling), or until
woken (a push, an enabled schedule, a skip); other nodes' changes are seen within `MAX_SLEEP`.

Time is injected (`clock`): tests drive it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from digpy.core.language.builtins import format_session_time
from digpy.core.store import DONE, SUCCESS, catalog, schedules
from digpy.core.store import schema as s
from digpy.core.store.server import ServerStore
from digpy.core.workflow.schedule import Slot, plan_tick
from digpy.server.services import attempts
from digpy.server.services.schedules import schedule_of, slot_times

log = logging.getLogger("digpy.server.scheduler")
BATCH = 100  # due schedules taken per step
MAX_SLEEP = 60.0  # seconds: how late a node notices another node's push or enable
RETRY_SECONDS = 60.0  # a schedule whose step failed is tried again this much later


class _Lost(Exception):
    """Another node moved this schedule meanwhile: this node's work on it is undone."""


class Scheduler:
    def __init__(self, store: ServerStore, *, clock: Callable[[], float] = time.time,
                 started: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.clock = clock
        self.started = started  # an attempt was created: wake the executor
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ one step (blocking: a database thread)

    def step(self, now: float | None = None) -> int:
        """Handle every schedule due at `now`; returns how many attempts were started.

        Due schedules are handled a batch at a time, each batch in one transaction; a batch in
        which a schedule fails is handled again one schedule at a time, so that the broken one is
        put off (RETRY_SECONDS) and the others go on."""
        now = self.clock() if now is None else now
        total = 0
        while True:  # catch_up: all leaves a schedule due (its next missed slot): go on until none is
            try:
                started, seen = self._batch(now)
            except Exception:
                started, seen = self._one_by_one(now)
            total += started
            if seen == 0:
                break
        if total:
            self.started()
        return total

    def _batch(self, now: float) -> tuple[int, int]:
        with self.store.begin() as conn:
            rows = schedules.take_due(conn, now, BATCH)
            handled = [self._handle(conn, row, now) for row in rows]
            if schedules.move_all(conn, [move for _, move in handled]) != len(rows):
                raise _Lost()  # another node moved one meanwhile: the batch is undone, done one by one
            return sum(started for started, _ in handled), len(rows)

    def _one_by_one(self, now: float) -> tuple[int, int]:
        with self.store.begin() as conn:
            due = [row["id"] for row in schedules.take_due(conn, now, BATCH)]
        started = 0
        for schedule_id in due:
            try:
                with self.store.begin() as conn:
                    row = schedules.take(conn, schedule_id, now)
                    if row is not None:  # None: another node took it, or it is not due any more
                        count, move = self._handle(conn, row, now)
                        if schedules.move_all(conn, [move]) != 1:
                            raise _Lost()
                        started += count
            except _Lost:
                continue
            except Exception:  # one broken schedule must not stop the others
                log.exception("schedule %d could not be run; trying again in %.0f s", schedule_id, RETRY_SECONDS)
                self._postpone(schedule_id, now + RETRY_SECONDS)
        return started, len(due)

    def _handle(self, conn: Connection, row: dict[str, Any], now: float) -> tuple[int, schedules.Move]:
        """Start (or pass over) a due schedule's slot, in the caller's transaction; returns how many
        attempts it started and how the caller moves the schedule on (schedules.move_all)."""
        schedule = schedule_of(row)
        zone = ZoneInfo(row["timezone"])
        due = Slot(datetime.fromtimestamp(row["next_schedule_time"], zone),
                   datetime.fromtimestamp(row["next_run_time"], zone))
        plan = plan_tick(schedule, due, datetime.fromtimestamp(now, zone))
        name = f"{row['project_name']}/{row['workflow_name']}"
        if plan.skipped is not None:
            first, last = plan.skipped
            log.warning("schedule of %s: missed slots %s to %s passed over (catch_up: %s); `digpy backfill` "
                        "runs them", name, format_session_time(first.session_time),
                        format_session_time(last.session_time), schedule.catch_up)
        started = 0
        last_session: int | None = None
        if plan.start is not None and schedule.skip_if_successful and _succeeded_since(
                conn, row, schedule.prev_slot(plan.start.session_time)):
            log.info("schedule of %s: slot %s skipped: the workflow succeeded since the previous slot "
                     "(skip_if_successful)", name, format_session_time(plan.start.session_time))
        elif plan.start is not None:
            started = self._start(conn, row, schedule.overlap, plan.start, name)
            last_session = int(plan.start.session_time.timestamp()) if started else None
        run_time, session_time = slot_times(plan.next)
        return started, schedules.Move(row, run_time, session_time, last_session)

    def _start(self, conn: Connection, row: dict[str, Any], overlap: str, slot: Slot, name: str) -> int:
        running = _unfinished(conn, int(row["project_id"]), row["workflow_name"]) if overlap != "run" else None
        if running is not None and overlap == "skip":
            log.info("schedule of %s: slot %s skipped: attempt %d still runs (overlap: skip)", name,
                     format_session_time(slot.session_time), running)
            return 0
        session, new = self.store.open_session(int(row["project_id"]), row["workflow_name"],
                                               int(slot.session_time.timestamp()))
        if not new and catalog.find_attempt(conn, session.id, None) is not None:
            log.info("schedule of %s: session %s exists already; not started again", name,
                     format_session_time(slot.session_time))
            return 0
        definition = {"id": row["workflow_definition_id"], "timezone": row["timezone"],
                      "project_name": row["project_name"], "queue_name": row["queue_name"],
                      "max_active_attempts": row["max_active_attempts"]}
        attempt = attempts.create(self.store, session, definition=definition, params={}, attempt_name=None,
                                  after_attempt_id=running if overlap == "wait" else None,
                                  run_time=slot.run_time.timestamp())
        log.info("schedule of %s: session %s started (attempt %d)", name, format_session_time(slot.session_time),
                 attempt["id"])
        return 1

    def _postpone(self, schedule_id: int, until: float) -> None:
        with contextlib.suppress(Exception), self.store.begin() as conn:
            row = schedules.get(conn, schedule_id)
            schedules.move_all(conn, [schedules.Move(row, until, row["next_schedule_time"], None)])

    def next_due(self) -> float | None:
        with self.store.begin() as conn:
            return schedules.next_due(conn)

    # ------------------------------------------------------------------ the loop

    async def run(self, offload: Callable[[Callable[[], Any]], Awaitable[Any]]) -> None:
        """Step, then sleep until the earliest next slot (at most MAX_SLEEP), until stopped."""
        while not self._stopping:
            try:
                await offload(self.step)
                following: float | None = await offload(self.next_due)
            except Exception:
                log.exception("the scheduler's step failed; trying again in %.0f s", MAX_SLEEP)
                following = None
            pause = MAX_SLEEP if following is None else min(MAX_SLEEP, max(0.0, following - self.clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)
            self._wake.clear()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


def _unfinished(conn: Connection, project_id: int, workflow: str) -> int | None:
    """The newest unfinished attempt of a workflow, if any."""
    found = conn.execute(select(s.attempts.c.id).where(
        s.attempts.c.project_id == project_id, s.attempts.c.workflow_name == workflow,
        s.attempts.c.state_flags.op("&")(DONE) == 0).order_by(s.attempts.c.id.desc()).limit(1)).scalar()
    return None if found is None else int(found)


def _succeeded_since(conn: Connection, row: dict[str, Any], previous: Slot | None) -> bool:
    """Whether the workflow's newest attempt created since the run time of the `previous` slot, not
    counting those the schedule started (they have a run time), succeeded."""
    if previous is None:
        return False
    a = s.attempts.c
    flags = conn.execute(select(a.state_flags).where(
        a.project_id == int(row["project_id"]), a.workflow_name == row["workflow_name"], a.run_time.is_(None),
        a.created_at >= previous.run_time.timestamp(),
    ).order_by(a.id.desc()).limit(1)).scalar()
    return flags is not None and flags & (DONE | SUCCESS) == DONE | SUCCESS
