"""Session built-in variables (`session_time`, `session_date`, `last_session_time`, ...) and `--session`."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from digpy.core.errors import ConfigError
from digpy.core.workflow.schedule import Schedule, check_timezone

_FORMS = 'last, daily, hourly, schedule, "yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss" or an ISO-8601 time with offset'


def format_session_time(t: datetime) -> str:
    """`2016-01-30T00:00:00-08:00` (UTC is `+00:00`, never `Z`)."""
    return t.replace(microsecond=0).isoformat()


def _tz_offset(t: datetime) -> str:
    return t.strftime("%z")


def _time_variables(prefix: str, t: datetime) -> dict[str, Any]:
    return {
        f"{prefix}_time": format_session_time(t),
        f"{prefix}_date": t.strftime("%Y-%m-%d"),
        f"{prefix}_date_compact": t.strftime("%Y%m%d"),
        f"{prefix}_local_time": t.strftime("%Y-%m-%d %H:%M:%S"),
        f"{prefix}_tz_offset": _tz_offset(t),
        f"{prefix}_unixtime": int(t.timestamp()),
    }


def session_variables(
    session_time: datetime, timezone: str, *, schedule: Schedule | None = None,
    last_executed_session_time: datetime | None = None,
) -> dict[str, Any]:
    """The built-ins of a session: `timezone`, `session_*`, `last_/next_session_*` (with a schedule)
    and `last_executed_session_*` (empty strings when there was none, but for the zone's offset at the epoch)."""
    zone = check_timezone(timezone)
    local = session_time.astimezone(zone)
    out: dict[str, Any] = {"timezone": timezone}
    out.update(_time_variables("session", local))
    if schedule is not None:
        previous, following = schedule.prev_slot(local), schedule.next_slot(local)
        if previous is not None:
            out.update(_time_variables("last_session", previous.session_time))
        if following is not None:
            out.update(_time_variables("next_session", following.session_time))
    if last_executed_session_time is not None:
        out.update(_time_variables("last_executed_session", last_executed_session_time.astimezone(zone)))
    else:
        # Digdag: all empty, except the offset, which is the zone's at the epoch.
        epoch = _time_variables("last_executed_session", datetime.fromtimestamp(0, zone))
        out.update({k: (v if k == "last_executed_session_tz_offset" else "") for k, v in epoch.items()})
    return out


MIN_YEAR, MAX_YEAR = 1000, 9998


def parse_session_option(
    value: str, timezone: str, *, now: datetime, schedule: Schedule | None,
    last_session_time: datetime | None,
) -> tuple[datetime, str]:
    """`digpy run --session VALUE` → (session time, a note for the log)."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    text = value.strip()
    if text == "last":
        if last_session_time is not None:
            t = last_session_time.astimezone(zone)
            return t, f"Reusing the last session time {format_session_time(t)}."
        slot = schedule.last_before(local_now) if schedule is not None else None
        t = slot.session_time if slot is not None else today
        return t, f"Using a new session time {format_session_time(t)}."
    if text == "daily":
        t = today
    elif text == "hourly":
        t = local_now.replace(minute=0, second=0, microsecond=0)
    elif text == "schedule":
        if schedule is None:
            raise ConfigError("--session schedule needs a workflow with a schedule:")
        slot = schedule.last_before(local_now)
        if slot is None:
            raise ConfigError("the workflow's schedule has no session before now")
        t = slot.session_time
    else:
        t = parse_time(text, zone)
    return t, f"Using session time {format_session_time(t)}."


def parse_time(text: str, zone: ZoneInfo, what: str = "--session") -> datetime:
    """`yyyy-MM-dd[ HH:mm:ss]` (or with `T`) in `zone`, or an ISO time with an offset; in `zone`."""
    found: datetime | None = None
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            found = datetime.strptime(text, fmt).replace(tzinfo=zone)
            break
        except ValueError:
            continue
    if found is None:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            raise ConfigError(f"invalid {what} value '{text}'", hint=f"use {_FORMS}")
        found = parsed
    try:  # the session must be a time every zone can show (it is stored in epoch seconds)
        if not MIN_YEAR <= found.astimezone(UTC).year <= MAX_YEAR:
            raise OverflowError
        return found.astimezone(zone)
    except (OverflowError, ValueError):
        raise ConfigError(f"{what} '{text}' is out of range",
                          hint=f"use a time between the years {MIN_YEAR} and {MAX_YEAR}") from None


# Digdag's LocalTimeOrInstant: an ISO-8601 local date-time or one with an offset, where seconds
# and their fraction are optional (its client sends `2016-01-01T00:00` for `--session 2016-01-01`).
_DIGDAG_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,9})?)?"
                          r"([Zz]|[+-][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?")


def local_time_or_instant(text: str, zone: ZoneInfo, what: str) -> datetime:
    """A time parameter as Digdag's REST API takes it (local in `zone`, or with an offset; seconds
    optional; fractions of a second dropped, as session times are whole seconds), or in any form
    `digpy run --session` takes."""
    found = _DIGDAG_TIME.fullmatch(text)
    if found:
        date, minutes, seconds, offset = found.groups()
        text = f"{date}T{minutes}:{seconds or '00'}{(offset or '').upper()}"
    return parse_time(text, zone, what)


__all__ = ["format_session_time", "local_time_or_instant", "parse_session_option", "parse_time", "session_variables"]
