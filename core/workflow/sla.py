"""Service level agreements: a workflow's `sla:` and a task's `_sla` (what a miss sets off).

`sla: {time: HH:MM[:SS] | duration: HH:MM[:SS], alert: true, fail: false, +tasks...}` watches an
attempt, as in Digdag: `time` is the first such time of day (in the workflow's time zone) at or
after the attempt's run time, `duration` is counted from the run time. `_sla: DURATION` (or
`_sla: {duration, alert, fail, +tasks}`) watches one task, from when it first started (Digdag
request #689). Neither is evaluated (`${...}` is refused): they are read once, here.

When the deadline passes and the watched attempt or task is not done, the state machine adds a
`^sla` group (the `+tasks`) under the attempt's root; with `fail: true` that group ends in error,
so the attempt fails once its running tasks are done; with `alert: true` (the default) the
`digpy_notify_sla` hooks are told.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from datetime import time as time_of_day
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from digpy.core import options
from digpy.core.errors import ConfigError, Location
from digpy.core.workflow.located import key_location, value_location, without_keys

if TYPE_CHECKING:
    from digpy.core.workflow.spec import TaskSpec

OPTIONS = ("time", "duration", "alert", "fail")
_CLOCK = re.compile(r"^(\d+):(\d{1,2})(?::(\d{1,2}))?$")


class Sla(NamedTuple):
    """One SLA: a deadline (`seconds` after the start, or a time of day) and what a miss does.
    (A NamedTuple, not a dataclass: it is defined at every start-up; see docs/performance.md.)

    tasks: the compiled `^sla` group (root first), run under the attempt's root when it is missed.
    written: the deadline as the workflow says it (`within 00:05:00`, `by 02:00`), for messages.
    """

    seconds: int | None
    clock: tuple[int, int, int] | None
    alert: bool
    fail: bool
    tasks: tuple[TaskSpec, ...]
    written: str

    def deadline(self, start: float, timezone: str) -> float:
        """The epoch time the SLA is missed at, for an attempt or task that started at `start`."""
        if self.seconds is not None:
            return start + self.seconds
        assert self.clock is not None
        zone = ZoneInfo(timezone)
        day = datetime.fromtimestamp(start, zone).date()
        at = time_of_day(*self.clock)
        # A time of day that a daylight-saving change skips is moved past the gap (fold=0), one that
        # happens twice counts at its first occurrence, as schedules do.
        deadline = datetime.combine(day, at, tzinfo=zone).timestamp()
        if deadline < start:
            deadline = datetime.combine(day + timedelta(days=1), at, tzinfo=zone).timestamp()
        return deadline


def read_sla(value: Any, *, task: str, workflow: bool, location: Location | None) -> tuple[Sla, dict[str, Any]]:
    """Read the `sla:` of a workflow (`workflow=True`) or the `_sla` of a task (`task`: its full
    name, for messages); returns the SLA without its tasks and the config of its `^sla` group (the
    `+tasks` and group directives) to compile."""
    what = f"{task}: sla" if workflow else f"{task}: _sla"
    if not workflow and not isinstance(value, Mapping):
        seconds = _duration(value, what, location)
        return Sla(seconds, None, True, False, (), f"within {value}"), {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must be a mapping such as {{duration: 01:00:00, +notify: ...}}", location=location,
                          hint="write time: HH:MM:SS or duration: HH:MM:SS under it")
    for key in value:
        if not (key in OPTIONS or key.startswith("+") or key.startswith("_")):
            raise ConfigError(f"{what} has an unknown key '{key}'", location=key_location(value, key),
                              hint="an SLA has time or duration, alert, fail and +tasks to run when it is missed")
    if workflow and ("time" in value) == ("duration" in value):
        raise ConfigError(f"{what} needs either time or duration (not both)", location=location,
                          hint="time: HH:MM:SS is a time of day; duration: HH:MM:SS counts from the attempt's start")
    if not workflow and "time" in value:
        raise ConfigError(f"{what} takes a duration, not a time of day", location=key_location(value, "time"),
                          hint="a task's SLA counts from its start: write duration: 00:30:00 (sla: time: is "
                               "for the workflow)")
    if not workflow and "duration" not in value:
        raise ConfigError(f"{what} needs a duration", location=location, hint="write duration: 00:30:00")
    alert = _flag(value, "alert", True, what)
    fail = _flag(value, "fail", False, what)
    if "time" in value:
        clock = _clock(value["time"], f"{what} time", value_location(value, "time"))
        sla = Sla(None, clock, alert, fail, (), f"by {value['time']}")
    else:
        seconds = _duration(value["duration"], f"{what} duration", value_location(value, "duration"))
        sla = Sla(seconds, None, alert, fail, (), f"within {value['duration']}")
    return sla, without_keys(dict(value) if not isinstance(value, dict) else value, OPTIONS)


def _flag(config: Mapping[str, Any], key: str, default: bool, what: str) -> bool:
    if key not in config:
        return default
    value = config[key]
    if not isinstance(value, bool):
        raise ConfigError(f"{what} {key} must be true or false", location=value_location(config, key))
    return value


def _templated(value: Any, what: str, location: Location | None) -> None:
    if isinstance(value, str) and "${" in value:
        raise ConfigError(f"{what} can't use ${{...}}", location=location,
                          hint="an SLA is read when the workflow is loaded: write a literal value")


def _duration(value: Any, what: str, location: Location | None) -> int:
    """`HH:MM[:SS]` (Digdag's form), or `30s`, `5m`, `1h30m`, `1d`, or a number of seconds."""
    _templated(value, what, location)
    if isinstance(value, str):
        match = _CLOCK.match(value.strip())
        if match:
            hours, minutes, secs = int(match[1]), int(match[2]), int(match[3] or 0)
            if minutes < 60 and secs < 60:
                return (hours * 60 + minutes) * 60 + secs
            raise ConfigError(f"{what} {value!r} is not a duration", location=location,
                              hint="minutes and seconds are 0-59")
    try:
        seconds = options.duration(value, what, location)
    except ConfigError:
        raise ConfigError(f"{what} {value!r} is not a duration", location=location,
                          hint="write HH:MM:SS (00:30:00), or 30s, 5m, 1h30m") from None
    if seconds <= 0:
        raise ConfigError(f"{what} must be longer than 0 seconds", location=location)
    return seconds


def _clock(value: Any, what: str, location: Location | None) -> tuple[int, int, int]:
    _templated(value, what, location)
    match = _CLOCK.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ConfigError(f"{what} {value!r} is not a time of day", location=location,
                          hint="write a time of day as HH:MM:SS")
    hours, minutes, secs = int(match[1]), int(match[2]), int(match[3] or 0)
    if hours > 23 or minutes > 59 or secs > 59:
        raise ConfigError(f"{what} {value!r} is not a time of day", location=location,
                          hint="a time of day is 00:00:00 to 23:59:59")
    return hours, minutes, secs


__all__ = ["OPTIONS", "Sla", "read_sla"]
