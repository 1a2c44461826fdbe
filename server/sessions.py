"""`require>` on the server: the sessions and attempts it starts and waits for live in the database
(the rules themselves are digpy.core.engine.sessions')."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from digpy.core.errors import ConfigError
from digpy.core.spi import AttemptStatus
from digpy.core.store import DONE, SUCCESS, catalog, waits
from digpy.core.store.server import ServerStore
from digpy.server.services import attempts

POLL_SECONDS = 1.0


class _Target(NamedTuple):
    name: str
    timezone: str
    project_id: int
    definition: dict[str, Any]  # the workflow definition's catalog row


class ServerSessionBackend:
    """The SessionBackend of server attempts; `wake` tells the executor an attempt was started."""

    def __init__(self, store: ServerStore, wake: Callable[[], None], *, default_project: int) -> None:
        self.store = store
        self.wake = wake
        self.default_project = default_project

    def target(self, workflow: str, project_name: str | None) -> _Target:
        with self.store.begin() as conn:
            if project_name:
                project = catalog.find_project(conn, project_name)
                if project is None:
                    raise ConfigError(f"require> project '{project_name}' does not exist")
                project_id = int(project["id"])
            else:
                project_id = self.default_project
            found = catalog.list_workflows(conn, project_id, name=workflow)
        if not found:
            raise ConfigError(f"require> workflow '{workflow}' does not exist in the project")
        definition = found[0]
        return _Target(workflow, definition["timezone"], project_id, definition)

    def latest(self, target: _Target, session_time: datetime) -> AttemptStatus | None:
        session = self.store.session_for(target.project_id, target.name, int(session_time.timestamp()))
        with self.store.begin() as conn:
            latest = catalog.list_attempts(conn, session_id=session.id, page_size=1)
        return _status(latest[0]) if latest else None

    def start(self, target: _Target, session_time: datetime, params: Mapping[str, Any], attempt_name: str | None,
              *, retry: bool) -> AttemptStatus:
        session = self.store.session_for(target.project_id, target.name, int(session_time.timestamp()))
        name = attempt_name or (f"require-{uuid.uuid4().hex[:8]}" if retry else None)
        # Part of the requiring attempt's work: it never waits in a queue (for a slot that its requirer
        # may hold, forever), and counts against the limits while it runs.
        attempt = attempts.create(self.store, session, definition=target.definition, params=dict(params),
                                  attempt_name=name, bypass_queue=True)
        self.wake()
        return _status(attempt)

    def status(self, attempt_id: int) -> AttemptStatus:
        with self.store.begin() as conn:
            return _status(catalog.get_attempt(conn, attempt_id))

    def record_wait(self, attempt_id: int, waits_for: int) -> None:
        with self.store.begin() as conn:
            waits.record_wait(conn, attempt_id, waits_for)

    def waits_of(self, attempt_id: int) -> list[int]:
        with self.store.begin() as conn:
            return waits.waits_of(conn, attempt_id)


def _status(attempt: dict[str, Any]) -> AttemptStatus:
    flags = attempt["state_flags"]
    return AttemptStatus(int(attempt["id"]), int(attempt["session_id"]), bool(flags & DONE),
                         bool(flags & SUCCESS), poll_seconds=POLL_SECONDS)
