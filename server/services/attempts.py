"""Sessions and attempts: list, read, start (new, retried, resumed) and kill."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from digpy.core.errors import ConfigError, Conflict, NotFound
from digpy.core.store import SUCCESS, catalog, waits
from digpy.core.store.server import ServerStore
from digpy.core.store.sql import SessionRecord
from digpy.core.workflow.resume import forced_tasks
from digpy.core.workflow.tree import compile_workflow
from digpy.server import rest

MAX_PAGE = 1000


def _sessions(conn: Connection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        last = catalog.get_attempt(conn, row["last_attempt_id"]) if row["last_attempt_id"] else None
        out.append(rest.session(row, last))
    return out


def list_sessions(store: ServerStore, *, project_id: int | None = None, workflow: str | None = None,
                  last_id: int | None = None, page_size: int = 100) -> list[dict[str, Any]]:
    with store.begin() as conn:
        if project_id is not None:
            project_id = catalog.get_project(conn, project_id)["id"]
        rows = catalog.list_sessions(conn, project_id=project_id, workflow=workflow, last_id=last_id,
                                     page_size=page_size)
        return _sessions(conn, rows)


def get_session(store: ServerStore, session_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        return _sessions(conn, [catalog.get_session(conn, session_id)])[0]


def session_attempts(store: ServerStore, session_id: int, *, last_id: int | None = None,
                     page_size: int = 100) -> list[dict[str, Any]]:
    with store.begin() as conn:
        session_id = catalog.get_session(conn, session_id)["id"]
        rows = catalog.list_attempts(conn, session_id=session_id, last_id=last_id, page_size=page_size)
        return [rest.attempt(r) for r in rows]


def list_attempts(store: ServerStore, *, project: str | None = None, workflow: str | None = None,
                  include_retried: bool = False, last_id: int | None = None,
                  page_size: int = 100, status: str | None = None) -> list[dict[str, Any]]:
    with store.begin() as conn:
        project_id = None
        if project:
            found = catalog.find_project(conn, project)
            if found is None:
                raise NotFound(f"project '{project}' not found")
            project_id = found["id"]
        rows = catalog.list_attempts(conn, project_id=project_id, workflow=workflow,
                                     include_retried=include_retried, last_id=last_id, page_size=page_size,
                                     status=status)
        return [rest.attempt(r) for r in rows]


def get_attempt(store: ServerStore, attempt_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        return rest.attempt(catalog.get_attempt(conn, attempt_id))


def attempt_retries(store: ServerStore, attempt_id: int) -> list[dict[str, Any]]:
    with store.begin() as conn:
        attempt = catalog.get_attempt(conn, attempt_id)
        rows = catalog.list_attempts(conn, session_id=attempt["session_id"], page_size=MAX_PAGE)
        return [rest.attempt(r) for r in reversed(rows)]


def requires(store: ServerStore, attempt_id: int) -> list[dict[str, Any]]:
    """The attempts this attempt's `require>` tasks started or waited for."""
    with store.begin() as conn:
        attempt_id = catalog.get_attempt(conn, attempt_id)["id"]
        return [rest.attempt(r) for r in catalog.attempts_by_id(conn, waits.waits_of(conn, attempt_id))]


def required_by(store: ServerStore, attempt_id: int) -> list[dict[str, Any]]:
    """The attempts whose `require>` tasks started or waited for this one."""
    with store.begin() as conn:
        attempt_id = catalog.get_attempt(conn, attempt_id)["id"]
        return [rest.attempt(r) for r in catalog.attempts_by_id(conn, waits.waited_by(conn, attempt_id))]


def attempt_tasks(store: ServerStore, attempt_id: int) -> list[dict[str, Any]]:
    with store.begin() as conn:
        attempt_id = catalog.get_attempt(conn, attempt_id)["id"]
        return [rest.task(r) for r in catalog.list_task_rows(conn, attempt_id)]


def task_start_times(store: ServerStore, attempt_id: int) -> dict[str, float]:
    """When each task of an attempt (by full name) first started (NotFound for an unknown attempt)."""
    with store.begin() as conn:
        attempt_id = catalog.get_attempt(conn, attempt_id)["id"]
        return catalog.task_start_times(conn, attempt_id)


def create(store: ServerStore, session: SessionRecord, *, definition: dict[str, Any], params: dict[str, Any],
           attempt_name: str | None, after_attempt_id: int | None = None,
           bypass_queue: bool = False, run_time: float | None = None) -> dict[str, Any]:
    """Create an attempt of a session of a workflow definition (a catalog row) for the executor to
    pick up (once `after_attempt_id`, if given, has ended); returns it as a catalog row (made from
    what is known: no query). `run_time`: when its schedule slot was due (default: now).

    If the workflow has a queue or a `max_active_attempts`, the attempt is queued: no node runs it
    until the executor admits it within those limits, in order of creation (digpy.core.store.queues).
    `bypass_queue`: it starts at once, and still counts against the limits while it is active."""
    queue, most = definition.get("queue_name"), definition.get("max_active_attempts")
    queued = not bypass_queue and (queue is not None or most is not None)
    record = store.create_attempt(session, timezone=definition["timezone"], params=params, attempt_name=attempt_name,
                                  workflow_definition_id=int(definition["id"]), after_attempt_id=after_attempt_id,
                                  queue=queue, max_active_attempts=most, queued=queued, run_time=run_time)
    return {
        "id": record.id, "session_id": session.id, "project_id": session.project_id,
        "workflow_name": session.workflow_name, "workflow_definition_id": int(definition["id"]),
        "attempt_name": attempt_name, "attempt_index": record.attempt_index, "timezone": record.timezone,
        "params": params, "state_flags": record.state_flags, "created_at": record.created_at, "finished_at": None,
        "lease_owner": None, "lease_expires_at": None, "resume_attempt_id": None, "resume_mode": None,
        "resume_from": None, "after_attempt_id": after_attempt_id, "queue_name": queue, "max_active_attempts": most,
        "run_time": run_time,
        "session_time": session.session_time, "session_uuid": session.session_uuid,
        "project_name": definition["project_name"], "project_deleted_name": None,
    }


def start(store: ServerStore, *, workflow_id: int, session_time: datetime, params: dict[str, Any],
          attempt_name: str | None = None, resume: dict[str, Any] | None = None,
          bypass_queue: bool = False) -> tuple[dict[str, Any], bool]:
    """Start an attempt of a workflow's session, in one transaction: (the attempt, True); if the
    session already has an attempt of that name: (that attempt, False), also when another request
    created it at the same moment. It waits in its workflow's queue and for its `max_active_attempts`
    unless `bypass_queue` (see create)."""
    try:
        return _start(store, workflow_id, session_time, params, attempt_name, resume, bypass_queue)
    except IntegrityError:  # the other request's attempt won the session's unique (session, name)
        return _start(store, workflow_id, session_time, params, attempt_name, resume, bypass_queue)


def _start(store: ServerStore, workflow_id: int, session_time: datetime, params: dict[str, Any],
           attempt_name: str | None, resume: dict[str, Any] | None,
           bypass_queue: bool) -> tuple[dict[str, Any], bool]:
    with store.begin() as conn:
        definition = catalog.get_workflow(conn, workflow_id)
        session = store.session_for(int(definition["project_id"]), definition["name"],
                                    int(session_time.timestamp()))
        existing = catalog.find_attempt(conn, session.id, attempt_name)
        if existing is not None:
            return rest.attempt(existing), False
        resume_from = _resume(conn, resume, session.id, definition) if resume else None
        attempt = create(store, session, definition=definition, params=params, attempt_name=attempt_name,
                         bypass_queue=bypass_queue)
        if resume_from is not None:
            catalog.set_resume(conn, int(attempt["id"]), **resume_from)
            attempt = catalog.get_attempt(conn, int(attempt["id"]))
        return rest.attempt(attempt), True


def _resume(conn: Connection, resume: dict[str, Any], session_id: int, definition: dict[str, Any]) -> dict[str, Any]:
    """Check a resume request ({mode: failed|from, attemptId: int, from: +task}) against the session."""
    source = catalog.get_attempt(conn, resume["attemptId"])
    if source["session_id"] != session_id:
        raise ConfigError(f"attempt {source['id']} belongs to another session")
    if resume["mode"] == "failed" and source["state_flags"] & SUCCESS:
        raise Conflict(f"attempt {source['id']} succeeded; there is nothing failed to resume")
    if resume["mode"] == "from":
        workflow = compile_workflow(definition["name"], json.loads(definition["config"]))
        forced_tasks(workflow.tasks, start=resume["from"])  # a task that is not there: 400 now, not a failed attempt
    return {"from_attempt": int(source["id"]), "mode": resume["mode"], "task": resume.get("from")}


def kill(store: ServerStore, attempt_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        attempt = rest.attempt(catalog.request_kill(conn, attempt_id))
        store.changed(conn, attempt_id)
        return attempt
