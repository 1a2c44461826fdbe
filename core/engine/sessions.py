"""`require>`'s rules, once for local runs and the server: which attempt of another workflow's
session a task waits for, when a new one is started, and the waits that would never end.

Where attempts live differs (this process for `digpy run`, the database for the server); that part
is a small `SessionBackend`. The rules are Digdag's:

- the session of (workflow, session time) is looked up; without an attempt, one is started;
- with one, `rerun_on: none` waits for it, `failed` starts a new attempt if it ended in failure,
  `all` starts a new attempt if it has ended; an attempt that still runs is waited for;
- an attempt never waits for its own session, nor for an attempt that waits, through the
  `require>` tasks of other unfinished attempts, for it (checked at every poll: the other side may
  start waiting later). Digdag waits forever in both cases; digpy fails the task with one line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from digpy.core.errors import ConfigError
from digpy.core.language.builtins import format_session_time
from digpy.core.spi import AttemptStatus


class Target(Protocol):
    """A workflow that can be required: its name and time zone (what else a backend needs is its own)."""

    @property
    def name(self) -> str: ...

    @property
    def timezone(self) -> str: ...


TargetT = TypeVar("TargetT", bound=Target)


class SessionBackend(Protocol[TargetT]):
    """Where the attempts that `require>` starts and waits for live."""

    def target(self, workflow: str, project_name: str | None) -> TargetT:
        """The workflow `require>` names; ConfigError if there is no such project or workflow."""
        ...

    def latest(self, target: TargetT, session_time: datetime) -> AttemptStatus | None:
        """The newest attempt of the target's session at `session_time`, if there is one."""
        ...

    def start(self, target: TargetT, session_time: datetime, params: Mapping[str, Any],
              attempt_name: str | None, *, retry: bool) -> AttemptStatus:
        """Start an attempt of the target's session (`retry`: the session has attempts already)."""
        ...

    def status(self, attempt_id: int) -> AttemptStatus:
        """Where an attempt stands now."""
        ...

    def record_wait(self, attempt_id: int, waits_for: int) -> None:
        """Remember that `attempt_id` waits for `waits_for` (for the cycle check of other attempts)."""
        ...

    def waits_of(self, attempt_id: int) -> Iterable[int]:
        """The attempts an attempt waits for."""
        ...


class RequiredSessions(Generic[TargetT]):
    """The `Sessions` (SPI) that the tasks of one attempt see."""

    def __init__(self, backend: SessionBackend[TargetT], attempt_id: int) -> None:
        self.backend = backend
        self.attempt_id = attempt_id

    def require(self, workflow: str, *, session_time: str, params: Mapping[str, Any], rerun_on: str = "none",
                project_name: str | None = None, retry_attempt_name: str | None = None) -> AttemptStatus:
        target = self.backend.target(workflow, project_name)
        when = datetime.fromisoformat(session_time.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=ZoneInfo(target.timezone))
        current = self.backend.latest(target, when)
        if current is not None:
            if current.attempt_id == self.attempt_id:
                raise ConfigError(f"require> {target.name} for session {format_session_time(when)} is this "
                                  "attempt's own session: it would wait for itself (a cycle)")
            ended_badly = current.done and not current.success
            if not current.done or rerun_on == "none" or (rerun_on == "failed" and not ended_badly):
                return self._waitable(current, target.name, when)
        started = self.backend.start(target, when, params, retry_attempt_name, retry=current is not None)
        self.backend.record_wait(self.attempt_id, started.attempt_id)
        return started

    def status(self, attempt_id: int) -> AttemptStatus:
        return self._waitable(self.backend.status(attempt_id), None, None)

    def _waitable(self, status: AttemptStatus, name: str | None, when: datetime | None) -> AttemptStatus:
        """`status`, unless its attempt waits (maybe through others) for this one: then a cycle."""
        if status.done:
            return status
        seen: set[int] = set()
        todo = [status.attempt_id]
        while todo:
            current = todo.pop()
            if current == self.attempt_id:
                what = f"{name} for session {format_session_time(when)}" if name and when else \
                    f"attempt {status.attempt_id}"
                raise ConfigError(f"require> {what} waits for the attempt that requires it (a cycle)")
            if current in seen:
                continue
            seen.add(current)
            if current != status.attempt_id and self.backend.status(current).done:
                continue
            todo.extend(self.backend.waits_of(current))
        self.backend.record_wait(self.attempt_id, status.attempt_id)
        return status


class NoSessions:
    """Sessions where none can be started (a runner without a local run or a server around it)."""

    def require(self, workflow: str, **_: Any) -> AttemptStatus:
        raise ConfigError(f"require> {workflow}: this runner cannot start other sessions")

    def status(self, attempt_id: int) -> AttemptStatus:
        raise ConfigError(f"attempt {attempt_id} is unknown here")


__all__ = ["NoSessions", "RequiredSessions", "SessionBackend", "Target"]
