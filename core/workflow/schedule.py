"""Schedules (`schedule:` of a workflow): slots with a session time and a run time, in the workflow zone.

Each schedule type is a cron pattern plus a delay, as in Digdag: the session time is the cron
match and the run time is the session time plus the delay (`daily>: 07:00:00` has sessions at
00:00 and runs at 07:00). Computation happens on wall-clock times in the workflow's time zone:

- a session whose wall-clock time does not exist (skipped by a spring-forward change) is moved
  forward by the gap, as Python's zoneinfo does (fold=0);
- a wall-clock time that occurs twice (fall back) is one session, at its first occurrence.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digpy.core.errors import ConfigError, Location
from digpy.core.options import duration

KINDS = ("hourly", "daily", "weekly", "monthly", "minutes_interval", "cron", "seconds_interval")
OPTIONS = ("skip_on_overtime", "skip_delayed_by", "start", "end", "delay", "catch_up", "overlap", "skip_if_successful")
# After downtime: start the newest missed slot only (the default: no storm), every missed slot in
# turn (Digdag), or none of them. docs/differences.md says why.
CATCH_UP = ("latest", "all", "none")
# A slot that comes while the previous attempt still runs: start it anyway (Digdag's default),
# skip it (Digdag's skip_on_overtime), or start it when the previous one ends.
OVERLAP = ("run", "skip", "wait")
ON_TIME_SECONDS = 60  # `catch_up: none` still starts a slot the scheduler reaches this late
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)  # where a schedule past its `end` waits (as Digdag)
_WEEKDAYS = {
    "sun": 0, "sunday": 0, "mon": 1, "monday": 1, "tue": 2, "tuesday": 2, "wed": 3, "wednesday": 3,
    "thu": 4, "thursday": 4, "fri": 5, "friday": 5, "sat": 6, "saturday": 6,
}
CRONS = "|"  # between the expressions of `cron>: [A, B]` in Schedule.cron
_FAR = 20000  # slots searched at most when start/end clamp a schedule


class Slot(NamedTuple):
    session_time: datetime
    run_time: datetime


def check_timezone(name: str, location: Location | None = None) -> ZoneInfo:
    """The ZoneInfo of `name`; an unknown zone is a ConfigError."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(f"unknown timezone '{name}'", location=location,
                          hint="use an IANA name such as UTC, Asia/Tokyo or America/Los_Angeles") from None


def parse_duration(text: Any, location: Location | None = None) -> int:
    """`10s`, `1m`, `1h30m`, `1d` (`1D` too), `90` (seconds) → seconds."""
    return duration(text, "duration", location)


class Schedule(NamedTuple):
    kind: str
    spec: str
    timezone: str
    cron: str
    delay: int
    skip_on_overtime: bool = False  # Digdag's spelling of overlap: skip
    skip_delayed_by: int | None = None
    start: date | None = None
    end: date | None = None

    catch_up: str = "latest"
    overlap: str = "run"
    # Pass a slot over when the workflow's newest attempt since the previous slot's run time, other
    # than those the schedule started, succeeded (a manual run did the slot's work; Dagu's skipIfSuccessful)
    skip_if_successful: bool = False

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def first(self, at: datetime) -> Slot | None:
        """The first slot whose run time is at or after `at`."""
        session = self._next_session(at.astimezone(self.zone) - timedelta(seconds=self.delay), inclusive=True)
        return self._clamped(session, forward=True)

    def next_slot(self, session_time: datetime) -> Slot | None:
        """The slot after the one of `session_time`."""
        return self._clamped(self._next_session(session_time.astimezone(self.zone), inclusive=False), forward=True)

    def prev_slot(self, session_time: datetime) -> Slot | None:
        """The slot before the one of `session_time`."""
        return self._clamped(self._prev_session(session_time.astimezone(self.zone)), forward=False)

    def last_before(self, now: datetime) -> Slot | None:
        """The newest slot whose run time is at or before `now`."""
        return self.slot_at_or_before(now - timedelta(seconds=self.delay))

    def slot_at_or_before(self, at: datetime) -> Slot | None:
        """The newest slot whose session time is at or before `at` (what a time truncates to)."""
        local = at.astimezone(self.zone)
        session = self._next_session(local, inclusive=True)
        if session != local:
            session = self._prev_session(session)
        return self._clamped(session, forward=False)

    # -- internals

    def _slot(self, session: datetime) -> Slot:
        return Slot(session, (session + timedelta(seconds=self.delay)).astimezone(self.zone))

    def _in_range(self, session: datetime) -> int:
        day = session.date()
        if self.start is not None and day < self.start:
            return -1
        if self.end is not None and day > self.end:
            return 1
        return 0

    def _clamped(self, session: datetime | None, *, forward: bool) -> Slot | None:
        for _ in range(_FAR):
            if session is None:
                return None
            position = self._in_range(session)
            if position == 0:
                return self._slot(session)
            if (forward and position > 0) or (not forward and position < 0):
                return None
            session = self._next_session(session, inclusive=False) if forward else self._prev_session(session)
        return None

    def _next_session(self, after: datetime, *, inclusive: bool) -> datetime:
        if self.kind == "seconds_interval":
            step = int(self.cron)
            epoch = int(after.timestamp())
            value = -(-epoch // step) * step if inclusive else (epoch // step + 1) * step
            return datetime.fromtimestamp(value, self.zone)
        naive = after.replace(tzinfo=None)
        base = naive - timedelta(microseconds=1) if inclusive else naive
        # `cron>` with several expressions: the earliest next match of any
        candidate: datetime = min(_cron_at(c, base).get_next(datetime) for c in self.cron.split(CRONS))
        return self._localize(candidate, after, inclusive)

    def _prev_session(self, before: datetime) -> datetime:
        if self.kind == "seconds_interval":
            step = int(self.cron)
            epoch = int(before.timestamp())
            return datetime.fromtimestamp((-(-epoch // step) - 1) * step, self.zone)
        candidate: datetime = max(_cron_at(c, before.replace(tzinfo=None)).get_prev(datetime)
                                  for c in self.cron.split(CRONS))
        return self._localize(candidate, None)

    def _localize(self, naive: datetime, after: datetime | None, inclusive: bool = False) -> datetime:
        local = naive.replace(tzinfo=self.zone, fold=0)
        # A wall time skipped by a spring-forward change: zoneinfo maps it past the gap.
        resolved = local.astimezone(UTC).astimezone(self.zone)
        # A wall time that maps to before `after` (the first of a repeated hour): look further.
        if after is not None and (resolved < after or (resolved == after and not inclusive)):
            return self._next_session(resolved, inclusive=False)
        return resolved


_parsed = threading.local()  # per thread: cron pattern → croniter (parsing one costs ~8 steps of it)
_PARSED_MAX = 4096


def _cron_at(cron: str, base: datetime) -> Any:
    """A croniter of `cron` standing at `base`, parsed once per thread and moved on each call."""
    cache: dict[str, Any] | None = getattr(_parsed, "cache", None)
    if cache is None:
        cache = _parsed.cache = {}
    iterator = cache.get(cron)
    if iterator is None:
        from croniter import croniter  # loaded only for workflows with a schedule

        if len(cache) >= _PARSED_MAX:
            cache.clear()
        iterator = cache[cron] = croniter(cron, base)
    else:
        iterator.set_current(base, force=True)
    return iterator


def parse_schedule(config: Mapping[str, Any], timezone: str, location: Location | None = None) -> Schedule:
    """Read the value of a workflow's `schedule:` key."""
    check_timezone(timezone, location)
    if not isinstance(config, Mapping):
        raise ConfigError("schedule must be a mapping such as {daily>: 07:00:00}", location=location)
    operators = [k for k in config if isinstance(k, str) and k.endswith(">")]
    unknown = [k for k in config if k not in operators and k not in OPTIONS]
    if unknown:
        raise ConfigError(f"schedule has an unknown key '{unknown[0]}'", location=location,
                          hint="allowed: one of " + ", ".join(f"{k}>" for k in KINDS) + "; " + ", ".join(OPTIONS))
    if len(operators) != 1:
        raise ConfigError("schedule needs exactly one of " + ", ".join(f"{k}>" for k in KINDS),
                          location=location)
    kind = operators[0][:-1]
    if kind not in KINDS:
        raise ConfigError(f"unknown schedule type '{kind}>'", location=location,
                          hint="use one of " + ", ".join(f"{k}>" for k in KINDS))
    value = config[operators[0]]
    spec = " | ".join(str(v) for v in value) if kind == "cron" and isinstance(value, list) else str(value)
    cron, delay = _cron_of(kind, value, location)
    if kind in ("minutes_interval", "cron", "seconds_interval") and "delay" in config:
        delay = parse_duration(config["delay"], location)
    elif "delay" in config:
        raise ConfigError(f"delay is only for minutes_interval>, seconds_interval> and cron>, not {kind}>",
                          location=location)
    skip_on_overtime = config.get("skip_on_overtime", False)
    if not isinstance(skip_on_overtime, bool):
        raise ConfigError("skip_on_overtime must be true or false", location=location)
    catch_up, overlap = config.get("catch_up", "latest"), config.get("overlap", "skip" if skip_on_overtime else "run")
    if catch_up not in CATCH_UP:
        raise ConfigError(f"schedule catch_up must be one of {', '.join(CATCH_UP)}, got {catch_up!r}",
                          location=location, hint="latest: only the newest missed slot runs after downtime")
    if overlap not in OVERLAP:
        raise ConfigError(f"schedule overlap must be one of {', '.join(OVERLAP)}, got {overlap!r}", location=location)
    if skip_on_overtime and overlap != "skip":
        raise ConfigError("skip_on_overtime: true is overlap: skip; write one of them", location=location)
    skip_if_successful = config.get("skip_if_successful", False)
    if not isinstance(skip_if_successful, bool):
        raise ConfigError("skip_if_successful must be true or false", location=location)
    skip_delayed_by = config.get("skip_delayed_by")
    start, end = _date(config.get("start"), "start", location), _date(config.get("end"), "end", location)
    if start and end and start > end:
        raise ConfigError(f"schedule start {start} is after its end {end}", location=location)
    return Schedule(
        kind=kind, spec=spec, timezone=timezone, cron=cron, delay=delay, skip_on_overtime=skip_on_overtime,
        catch_up=catch_up, overlap=overlap, skip_if_successful=skip_if_successful,
        skip_delayed_by=None if skip_delayed_by is None else parse_duration(skip_delayed_by, location),
        start=start, end=end,
    )


def _cron_of(kind: str, value: Any, location: Location | None) -> tuple[str, int]:
    if kind == "cron" and isinstance(value, list):  # several expressions: a session at each match of any
        if not value:
            raise ConfigError("cron>: expected a cron expression or a list of them, got []", location=location)
        return CRONS.join(dict.fromkeys(_cron_of(kind, v, location)[0] for v in value)), 0
    text = str(value).strip()
    if kind == "hourly":
        m, s = _clock(text, 2, f"hourly>: expected MM:SS, got '{text}'", location)
        return "0 * * * *", m * 60 + s
    if kind == "daily":
        h, m, s = _clock(text, 3, f"daily>: expected HH:MM:SS, got '{text}'", location)
        return "0 0 * * *", (h * 60 + m) * 60 + s
    if kind in ("weekly", "monthly"):
        day, _, clock = text.partition(",")
        form = "DDD,HH:MM:SS" if kind == "weekly" else "D,HH:MM:SS"
        if not clock:
            raise ConfigError(f"{kind}>: expected {form}, got '{text}'", location=location)
        h, m, s = _clock(clock.strip(), 3, f"{kind}>: expected {form}, got '{text}'", location)
        day = day.strip()
        if kind == "weekly":
            weekday = _WEEKDAYS.get(day.lower())
            if weekday is None:
                raise ConfigError(f"weekly>: unknown day '{day}'", location=location,
                                  hint="use Sun, Mon, Tue, Wed, Thu, Fri or Sat")
            return f"0 0 * * {weekday}", (h * 60 + m) * 60 + s
        if not day.isdigit() or not 1 <= int(day) <= 31:
            raise ConfigError(f"monthly>: day of month must be 1..31, got '{day}'", location=location)
        return f"0 0 {int(day)} * *", (h * 60 + m) * 60 + s
    if kind in ("minutes_interval", "seconds_interval"):
        if not text.isdigit() or int(text) < 1 or (kind == "minutes_interval" and int(text) > 59 and 60 % int(text)):
            raise ConfigError(f"{kind}>: expected a whole number of {kind.split('_')[0]} > 0, got '{text}'",
                              location=location)
        return (f"*/{int(text)} * * * *" if kind == "minutes_interval" else str(int(text))), 0
    from croniter import croniter

    if not croniter.is_valid(text) or len(text.split()) != 5:
        raise ConfigError(f"cron>: invalid cron expression '{text}'", location=location,
                          hint="five fields: minute hour day-of-month month day-of-week")
    return text, 0


def _clock(text: str, parts: int, message: str, location: Location | None) -> tuple[int, ...]:
    pieces = text.split(":")
    if len(pieces) != parts or not all(p.isdigit() and len(p) <= 2 for p in pieces):
        raise ConfigError(message, location=location)
    values = tuple(int(p) for p in pieces)
    limits = (24, 60, 60)[-parts:]
    if any(v >= lim for v, lim in zip(values, limits, strict=True)):
        raise ConfigError(message, location=location)
    return values


def _date(value: Any, what: str, location: Location | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"schedule {what} must be a date YYYY-MM-DD, got {value!r}", location=location) from None


class TickPlan(NamedTuple):
    """What a scheduler does with a schedule whose next slot is due.

    start: the slot to start now, if any (one per step: with `catch_up: all` the schedule stays
        due and the next step takes the next missed slot);
    skipped: the first and last missed slots passed over without starting, if any;
    next: the schedule's next slot afterwards (None: it has ended).
    """

    start: Slot | None
    skipped: tuple[Slot, Slot] | None
    next: Slot | None


def plan_tick(schedule: Schedule, due: Slot, now: datetime) -> TickPlan:
    """Decide, at `now`, about the due slot `due` (its run time is at or before `now`) and the slots
    missed after it, by the schedule's `catch_up` and `skip_delayed_by` (a slot later than that is
    never started). Pure: the caller applies `overlap`, which depends on the attempts running."""
    window = schedule.skip_delayed_by
    candidate: Slot | None
    if schedule.catch_up == "all":
        candidate = due
        if window is not None and (now - due.run_time).total_seconds() > window:
            # Digdag skips stale slots one by one; the first one still within the window, at once:
            candidate = schedule.first(now - timedelta(seconds=window))
            if candidate is not None and candidate.run_time > now:
                candidate = None
    else:
        latest = schedule.last_before(now)
        if latest is None or latest.session_time < due.session_time:
            latest = due
        late = (now - latest.run_time).total_seconds()
        limit = window if window is not None else (None if schedule.catch_up == "latest" else ON_TIME_SECONDS)
        candidate = latest if limit is None or late <= limit else None
    passed_to = candidate.session_time if candidate is not None else None
    last_missed = schedule.prev_slot(passed_to) if passed_to is not None else schedule.last_before(now)
    skipped = (due, last_missed) if last_missed is not None and last_missed.session_time >= due.session_time \
        else None
    after = candidate or (skipped[1] if skipped else due)
    return TickPlan(candidate, skipped, schedule.next_slot(after.session_time))
