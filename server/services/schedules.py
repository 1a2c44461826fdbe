"""Schedules: kept in step with pushed revisions, listed, skipped, backfilled, enabled and disabled.

The scheduler itself (what starts due slots) is digpy.server.scheduler; the times are computed by
digpy.core.workflow.schedule.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from digpy.core.errors import ConfigError, Conflict
from digpy.core.language.builtins import local_time_or_instant
from digpy.core.store import catalog, schedules
from digpy.core.store.server import ServerStore
from digpy.core.workflow.schedule import FAR_FUTURE, Schedule, Slot, parse_schedule
from digpy.server import rest
from digpy.server.services import attempts

MAX_BACKFILL = 100_000  # slots of one backfill (a typo in --from should not create millions)


@functools.lru_cache(maxsize=1024)
def _parsed(config_text: str, timezone: str) -> Schedule | None:
    config = json.loads(config_text)
    schedule = config.get("schedule") if isinstance(config, dict) else None
    return parse_schedule(schedule, timezone) if isinstance(schedule, dict) else None


def schedule_of(row: dict[str, Any]) -> Schedule:
    """The parsed schedule of a schedule row (or of a workflow definition row) — checked at push."""
    config = row["config"] if isinstance(row["config"], str) else json.dumps(row["config"])
    found = _parsed(config, row["timezone"])
    if found is None:
        raise ConfigError(f"workflow {row['workflow_name'] if 'workflow_name' in row else row['name']} has no schedule")
    return found


def slot_times(slot: Slot | None) -> tuple[float, int]:
    """(next_run_time, next_schedule_time) of a schedule row for its next slot (far away: ended)."""
    if slot is None:
        return FAR_FUTURE.timestamp(), int(FAR_FUTURE.timestamp())
    return slot.run_time.timestamp(), int(slot.session_time.timestamp())


def sync(conn: Connection, project_id: int, definitions: Sequence[dict[str, Any]], now: float) -> None:
    """After a push: a schedule for each workflow that has one. A workflow scheduled before keeps
    its state and moves on to the new pattern from its last session (Digdag); a new one starts at its
    first slot from now; the schedules of workflows that have none any more are removed."""
    existing = schedules.of_project(conn, project_id)
    kept: set[str] = set()
    for definition in definitions:
        schedule = _parsed(definition["config"], definition["timezone"])
        if schedule is None:
            continue
        name = definition["name"]
        kept.add(name)
        before = existing.get(name)
        zone = ZoneInfo(definition["timezone"])
        if before is not None and before["last_session_time"] is not None:
            following = schedule.next_slot(datetime.fromtimestamp(before["last_session_time"], zone))
        else:
            following = schedule.first(datetime.fromtimestamp(now, zone))
        run_time, session_time = slot_times(following)
        schedules.put(conn, project_id=project_id, workflow_name=name, definition_id=int(definition["id"]),
                      next_run_time=run_time, next_schedule_time=session_time, existing=before)
    schedules.remove(conn, [row["id"] for name, row in existing.items() if name not in kept])


def _shape(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Schedule rows as the API sends them, each with the session it started last."""
    sessions = schedules.last_sessions(conn, rows)
    attempt_ids = [int(x["last_attempt_id"]) for x in sessions.values() if x["last_attempt_id"] is not None]
    last = {int(a["id"]): a for a in catalog.attempts_by_id(conn, attempt_ids)}
    out = []
    for row in rows:
        session = sessions.get(int(row["id"]))
        attempt = last.get(int(session["last_attempt_id"])) if session and session["last_attempt_id"] else None
        out.append(rest.schedule(row, last_session=session, last_attempt=attempt))
    return out


def list_schedules(store: ServerStore, *, project_id: int | None = None, workflow: str | None = None,
                   last_id: int | None = None, count: int = 100) -> list[dict[str, Any]]:
    with store.begin() as conn:
        if project_id is not None:
            project_id = int(catalog.get_project(conn, project_id)["id"])
        return _shape(conn, schedules.list_schedules(conn, project_id=project_id, workflow=workflow,
                                                     last_id=last_id, count=count))


def get(store: ServerStore, schedule_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        return _shape(conn, [schedules.get(conn, schedule_id)])[0]


def set_enabled(store: ServerStore, schedule_id: int, enabled: bool, *, catch_up: bool = False,
                now: float | None = None) -> dict[str, Any]:
    """Disable, or enable a schedule: from now on (the slots missed while it was disabled are passed
    over), or with `catch_up` from where it stopped (its catch_up policy then decides)."""
    with store.begin() as conn:
        row = schedules.get(conn, schedule_id)
        if enabled and row["disabled_at"] is not None and not catch_up:
            zone = ZoneInfo(row["timezone"])
            run_time, session_time = slot_times(schedule_of(row).first(
                datetime.fromtimestamp(time.time() if now is None else now, zone)))
            _move(conn, row, run_time, session_time)
        schedules.set_disabled(conn, schedule_id, not enabled)
        return rest.schedule(schedules.get(conn, schedule_id), summary=True)


def skip(store: ServerStore, schedule_id: int, *, next_time: str | None = None, count: int | None = None,
         from_time: str | None = None, next_run_time: str | None = None, dry_run: bool = False,
         now: float | None = None) -> dict[str, Any]:
    """Move a schedule on: to the first slot whose session is at or after `next_time` ("now" too),
    or past `count` slots from `from_time` (default: its next slot); `next_run_time` overrides when
    that slot runs. Times are local to the workflow's zone unless they carry an offset."""
    with store.begin() as conn:
        row = schedules.get(conn, schedule_id)
        schedule = schedule_of(row)
        zone = ZoneInfo(row["timezone"])
        current = datetime.fromtimestamp(row["next_schedule_time"], zone)
        if next_time is not None:
            at = datetime.fromtimestamp(time.time() if now is None else now, zone) if next_time == "now" \
                else local_time_or_instant(next_time, zone, "nextTime")
            # "now": the first slot that has not run yet; a time: the first session at or after it
            target = schedule.first(at) if next_time == "now" else _at_or_after(schedule, at)
        else:
            if count is None or count < 1:
                raise ConfigError("skip needs nextTime, or count (a whole number >= 1)")
            begin = local_time_or_instant(from_time, zone, "fromTime") if from_time else current
            start = _at_or_after(schedule, begin)
            target = start
            for _ in range(count):
                if target is None:
                    break
                target = schedule.next_slot(target.session_time)
        if target is not None and target.session_time <= current:
            raise Conflict(f"the schedule's next session is {current.isoformat()}; skip moves it later only")
        run_time, session_time = slot_times(target)
        if next_run_time is not None:
            run_time = local_time_or_instant(next_run_time, zone, "nextRunTime").timestamp()
        if not dry_run:
            _move(conn, row, run_time, session_time)
            row = schedules.get(conn, schedule_id)
        else:
            row = {**row, "next_run_time": run_time, "next_schedule_time": session_time}
        return rest.schedule(row, summary=True)


def _move(conn: Connection, row: dict[str, Any], run_time: float, session_time: int) -> None:
    if schedules.move_all(conn, [schedules.Move(row, run_time, session_time, None)]) != 1:
        raise Conflict("the scheduler moved this schedule meanwhile; look at it again and retry")


def _delay(schedule: Schedule) -> timedelta:
    return timedelta(seconds=schedule.delay)


def _at_or_after(schedule: Schedule, session_time: datetime) -> Slot | None:
    """The first slot whose session time is at or after `session_time`."""
    return schedule.first(session_time - _delay(schedule))


def backfill_slots(schedule: Schedule, row: dict[str, Any], from_time: str, count: int | None) -> list[Slot]:
    """The slots from the first whose session is at or after `from_time` up to the schedule's next
    slot (exclusive), or `count` of them."""
    zone = ZoneInfo(row["timezone"])
    until = datetime.fromtimestamp(row["next_schedule_time"], zone)
    slot = _at_or_after(schedule, local_time_or_instant(from_time, zone, "fromTime"))
    out: list[Slot] = []
    while slot is not None and (count is None or len(out) < count) and (count is not None or
                                                                        slot.session_time < until):
        out.append(slot)
        if len(out) > MAX_BACKFILL:
            raise ConfigError(f"a backfill of more than {MAX_BACKFILL:,} sessions", hint="give --count, or a later --from")
        slot = schedule.next_slot(slot.session_time)
    return out


def backfill(store: ServerStore, schedule_id: int, *, from_time: str, attempt_name: str,
             count: int | None = None, parallel: int = 1, dry_run: bool = False) -> dict[str, Any]:
    """Start the schedule's past slots as attempts named `attempt_name`, in order; at most
    `parallel` of them run at once (1, the default: one after the other, as Digdag)."""
    if not attempt_name:
        raise ConfigError("a backfill needs an attempt name (--name)")
    if parallel < 1:
        raise ConfigError("--parallel must be at least 1")
    with store.begin() as conn:
        row = schedules.get(conn, schedule_id)
        schedule = schedule_of(row)
        slots = backfill_slots(schedule, row, from_time, count)
        definition = catalog.get_workflow(conn, row["workflow_definition_id"])
        made: list[dict[str, Any]] = []
        chains: list[int | None] = [None] * parallel
        if not dry_run:
            for index, slot in enumerate(slots):
                session, new = store.open_session(int(row["project_id"]), row["workflow_name"],
                                                  int(slot.session_time.timestamp()))
                if not new and catalog.find_attempt(conn, session.id, attempt_name) is not None:
                    raise Conflict(f"session {slot.session_time.isoformat()} already has an attempt named "
                                   f"'{attempt_name}'", hint="give the backfill another --name")
                attempt = attempts.create(store, session, definition=definition, params={}, attempt_name=attempt_name,
                                          after_attempt_id=chains[index % parallel])
                chains[index % parallel] = int(attempt["id"])
                made.append(rest.attempt(attempt))
        return rest.backfill(row, made, [s.session_time for s in slots])
