"""Queries of the server's catalog: projects, revisions, workflows, sessions, attempts, secrets.

Each function takes a Connection and never commits: the caller owns the transaction.
Rows come back as plain dicts of column values.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update

from digpy.core.errors import Conflict, NotFound
from digpy.core.store import CANCEL_REQUESTED, DONE, PARTIAL, QUEUED, SUCCESS
from digpy.core.store import schema as s
from digpy.core.workflow.spec import Workflow


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


# ----------------------------------------------------------------------------- projects


def find_project(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(s.projects).where(s.projects.c.name == name)).first()
    return _row(row) if row else None


def get_project(conn: Connection, project_id: int) -> dict[str, Any]:
    row = conn.execute(select(s.projects).where(s.projects.c.id == project_id,
                                                s.projects.c.deleted_at.is_(None))).first()
    if row is None:
        raise NotFound(f"project {project_id} not found")
    return _row(row)


def list_projects(conn: Connection, *, name: str | None = None, last_id: int | None = None,
                  count: int = 100) -> list[dict[str, Any]]:
    query = select(s.projects).where(s.projects.c.deleted_at.is_(None))
    if name is not None:
        query = query.where(s.projects.c.name == name)
    if last_id is not None:
        query = query.where(s.projects.c.id > last_id)
    return [_row(r) for r in conn.execute(query.order_by(s.projects.c.id).limit(count))]


def put_revision(
    conn: Connection, *, project: str, revision: str, archive: bytes, workflows: Sequence[Workflow],
    user_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store a pushed revision and its workflow definitions; creates the project if needed."""
    now = time.time()
    found = find_project(conn, project)
    if found is None:
        inserted = conn.execute(insert(s.projects).values(name=project, created_at=now, updated_at=now))
        project_id = inserted.inserted_primary_key[0]  # type: ignore[index]
    else:
        project_id = found["id"]
        conn.execute(update(s.projects).where(s.projects.c.id == project_id).values(updated_at=now))
    exists = conn.execute(select(s.revisions.c.id).where(
        s.revisions.c.project_id == project_id, s.revisions.c.name == revision)).first()
    if exists is not None:
        raise Conflict(f"revision '{revision}' of project '{project}' already exists")
    revision_id = conn.execute(insert(s.revisions).values(
        project_id=project_id, name=revision, archive=archive, archive_md5=hashlib.md5(archive).hexdigest(),
        archive_size=len(archive), default_params="{}", user_info=json.dumps(user_info or {}), created_at=now,
    )).inserted_primary_key[0]  # type: ignore[index]
    for workflow in workflows:
        text = json.dumps(workflow.config, ensure_ascii=False)  # key order is task order: never sort
        conn.execute(insert(s.workflow_definitions).values(
            project_id=project_id, revision_id=revision_id, name=workflow.name, timezone=workflow.timezone,
            config=text, config_digest=hashlib.sha256(text.encode()).hexdigest(), created_at=now,
            queue_name=workflow.limits.queue, max_active_attempts=workflow.limits.max_active_attempts,
            retention_age=workflow.retention.age, retention_sessions=workflow.retention.sessions,
        ))
    return get_project(conn, int(project_id))


def delete_project(conn: Connection, project_id: int) -> dict[str, Any]:
    project = get_project(conn, project_id)
    now = time.time()
    conn.execute(update(s.projects).where(s.projects.c.id == project_id).values(
        name=None, deleted_name=project["name"], deleted_at=now, updated_at=now))
    return {**project, "deleted_at": now}


def latest_revision(conn: Connection, project_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(s.revisions.c.id, s.revisions.c.name, s.revisions.c.archive_md5,
                              s.revisions.c.created_at, s.revisions.c.user_info)
                       .where(s.revisions.c.project_id == project_id)
                       .order_by(s.revisions.c.id.desc()).limit(1)).first()
    return _row(row) if row else None


def list_revisions(conn: Connection, project_id: int) -> list[dict[str, Any]]:
    query = (select(s.revisions.c.id, s.revisions.c.name, s.revisions.c.archive_md5, s.revisions.c.created_at,
                    s.revisions.c.user_info)
             .where(s.revisions.c.project_id == project_id).order_by(s.revisions.c.id.desc()))
    return [_row(r) for r in conn.execute(query)]


def get_revision(conn: Connection, project_id: int, name: str | None) -> dict[str, Any]:
    query = select(s.revisions).where(s.revisions.c.project_id == project_id)
    query = query.where(s.revisions.c.name == name) if name else query.order_by(s.revisions.c.id.desc())
    row = conn.execute(query.limit(1)).first()
    if row is None:
        project = _project_name(conn, project_id)
        raise NotFound(f"revision '{name}' of project '{project}' not found" if name
                       else f"project '{project}' has no revision")
    return _row(row)


def _project_name(conn: Connection, project_id: int) -> str:
    """A project's name for a message (a deleted project's too); its id if there is none."""
    row = conn.execute(select(func.coalesce(s.projects.c.name, s.projects.c.deleted_name))
                       .where(s.projects.c.id == project_id)).first()
    return row[0] if row is not None and row[0] is not None else str(project_id)


def get_revision_by_id(conn: Connection, revision_id: int) -> dict[str, Any]:
    row = conn.execute(select(s.revisions).where(s.revisions.c.id == revision_id)).first()
    if row is None:
        raise NotFound(f"revision {revision_id} not found")
    return _row(row)


# ----------------------------------------------------------------------------- workflows

_WORKFLOW_COLUMNS = (
    s.workflow_definitions,
    s.revisions.c.name.label("revision"),
    s.projects.c.name.label("project_name"),
)


def _workflow_query() -> Any:
    return (select(*_WORKFLOW_COLUMNS)
            .join(s.revisions, s.revisions.c.id == s.workflow_definitions.c.revision_id)
            .join(s.projects, s.projects.c.id == s.workflow_definitions.c.project_id)
            .where(s.projects.c.deleted_at.is_(None)))


def list_workflows(conn: Connection, project_id: int, revision: str | None = None,
                   name: str | None = None) -> list[dict[str, Any]]:
    rev = get_revision(conn, project_id, revision) if revision or latest_revision(conn, project_id) else None
    if rev is None:
        return []
    query = _workflow_query().where(s.workflow_definitions.c.revision_id == rev["id"])
    if name is not None:
        query = query.where(s.workflow_definitions.c.name == name)
    return [_row(r) for r in conn.execute(query.order_by(s.workflow_definitions.c.name))]


def list_latest_workflows(conn: Connection, *, last_id: int | None = None, count: int = 100,
                          name_pattern: str | None = None, descending: bool = False,
                          search_project_name: bool = False) -> list[dict[str, Any]]:
    """The workflows of each project's latest revision, by id (after `last_id` in that order);
    `name_pattern` matches workflow names, and project names too with `search_project_name`."""
    latest = (select(func.max(s.revisions.c.id)).where(s.revisions.c.project_id == s.projects.c.id)
              .correlate(s.projects).scalar_subquery())
    query = _workflow_query().where(s.workflow_definitions.c.revision_id == latest)
    wid = s.workflow_definitions.c.id
    if last_id is not None:
        query = query.where(wid < last_id if descending else wid > last_id)
    if name_pattern:
        matches = s.workflow_definitions.c.name.contains(name_pattern, autoescape=True)
        if search_project_name:
            matches = or_(matches, s.projects.c.name.contains(name_pattern, autoescape=True))
        query = query.where(matches)
    return [_row(r) for r in conn.execute(query.order_by(wid.desc() if descending else wid).limit(count))]


# Statements of the hot paths (starting and running attempts), built once: building a statement
# costs more than running it (~0.2 ms each, a third of the API's time per start: docs/performance.md).
_GET_WORKFLOW = _workflow_query().where(s.workflow_definitions.c.id == bindparam("workflow_id"))


def get_workflow(conn: Connection, workflow_id: int) -> dict[str, Any]:
    row = conn.execute(_GET_WORKFLOW, {"workflow_id": workflow_id}).first()
    if row is None:
        raise NotFound(f"workflow {workflow_id} not found")
    return _row(row)


# ----------------------------------------------------------------------------- sessions and attempts

_ATTEMPT_COLUMNS = (
    s.attempts,
    s.sessions.c.session_time,
    s.sessions.c.session_uuid,
    s.projects.c.name.label("project_name"),
    s.projects.c.deleted_name.label("project_deleted_name"),
)


def _attempt_query() -> Any:
    return (select(*_ATTEMPT_COLUMNS)
            .join(s.sessions, s.sessions.c.id == s.attempts.c.session_id)
            .join(s.projects, s.projects.c.id == s.attempts.c.project_id))


_GET_ATTEMPT = _attempt_query().where(s.attempts.c.id == bindparam("attempt_id"))
_FIND_NAMED = _attempt_query().where(s.attempts.c.session_id == bindparam("session_id"),
                                     s.attempts.c.attempt_name == bindparam("attempt_name"))
_FIND_FIRST = (_attempt_query().where(s.attempts.c.session_id == bindparam("session_id"))
               .order_by(s.attempts.c.id).limit(1))


def get_attempt(conn: Connection, attempt_id: int) -> dict[str, Any]:
    row = conn.execute(_GET_ATTEMPT, {"attempt_id": attempt_id}).first()
    if row is None:
        raise NotFound(f"attempt {attempt_id} not found")
    return _row(row)


# An attempt's status (digpy.client.model.attempt_status) as the values of its state flags that give it
# (QUEUED is only ever alone: admission clears it, a kill ends a queued attempt at once).
STATUS_FLAGS: dict[str, tuple[int, ...]] = {
    "queued": (QUEUED,),
    "running": (0,),
    "killing": (CANCEL_REQUESTED,),
    "success": (DONE | SUCCESS, DONE | SUCCESS | CANCEL_REQUESTED, DONE | SUCCESS | PARTIAL,
                DONE | SUCCESS | PARTIAL | CANCEL_REQUESTED),
    "error": (DONE,),
    "killed": (DONE | CANCEL_REQUESTED,),
}


def list_attempts(conn: Connection, *, project_id: int | None = None, workflow: str | None = None,
                  session_id: int | None = None, include_retried: bool = False, last_id: int | None = None,
                  page_size: int = 100, status: str | None = None) -> list[dict[str, Any]]:
    """Attempts, newest first, before `last_id` (keyset paging: as fast on the last page as on the
    first); `status` one of STATUS_FLAGS (docs/performance.md has the figures at 100,000 attempts)."""
    query = _attempt_query()
    if status == "success":  # most attempts: read newest first along the key, not every success through the index
        query = query.where((s.attempts.c.state_flags + 0).in_(STATUS_FLAGS[status]))
    elif status is not None:  # rare ones: through the index on the flags
        query = query.where(s.attempts.c.state_flags.in_(STATUS_FLAGS[status]))
    if project_id is not None:
        query = query.where(s.attempts.c.project_id == project_id)
    if workflow is not None:
        query = query.where(s.attempts.c.workflow_name == workflow)
    if session_id is not None:
        query = query.where(s.attempts.c.session_id == session_id)
    elif not include_retried:
        query = query.where(s.attempts.c.id == s.sessions.c.last_attempt_id)
    if last_id is not None:
        query = query.where(s.attempts.c.id < last_id)
    return [_row(r) for r in conn.execute(query.order_by(s.attempts.c.id.desc()).limit(page_size))]


def attempts_by_id(conn: Connection, attempt_ids: Sequence[int]) -> list[dict[str, Any]]:
    """These attempts (those that exist), by id."""
    if not attempt_ids:
        return []
    query = _attempt_query().where(s.attempts.c.id.in_(list(attempt_ids))).order_by(s.attempts.c.id)
    return [_row(r) for r in conn.execute(query)]


def open_attempts(conn: Connection) -> tuple[int, dict[int, int]]:
    """(the newest attempt's id, the state flags of every attempt not done, by id): what changes when
    an attempt is started, killed or finishes (read through the index on the flags)."""
    newest = conn.execute(select(func.max(s.attempts.c.id))).scalar()
    rows = conn.execute(select(s.attempts.c.id, s.attempts.c.state_flags).where(s.attempts.c.state_flags < DONE))
    return int(newest or 0), {int(i): int(f) for i, f in rows}


def find_attempt(conn: Connection, session_id: int, attempt_name: str | None) -> dict[str, Any] | None:
    """The attempt of a session with this retry name; for None, the session's first attempt."""
    if attempt_name is not None:
        row = conn.execute(_FIND_NAMED, {"session_id": session_id, "attempt_name": attempt_name}).first()
    else:
        row = conn.execute(_FIND_FIRST, {"session_id": session_id}).first()
    return _row(row) if row else None


def _session_query() -> Any:
    """Sessions with their project's name; a deleted project's in `project_deleted_name`."""
    return (select(s.sessions, s.projects.c.name.label("project_name"),
                   s.projects.c.deleted_name.label("project_deleted_name"))
            .join(s.projects, s.projects.c.id == s.sessions.c.project_id))


def get_session(conn: Connection, session_id: int) -> dict[str, Any]:
    row = conn.execute(_session_query().where(s.sessions.c.id == session_id)).first()
    if row is None:
        raise NotFound(f"session {session_id} not found")
    return _row(row)


def list_sessions(conn: Connection, *, project_id: int | None = None, workflow: str | None = None,
                  last_id: int | None = None, page_size: int = 100) -> list[dict[str, Any]]:
    query = _session_query().where(s.sessions.c.last_attempt_id.is_not(None))
    if project_id is not None:
        query = query.where(s.sessions.c.project_id == project_id)
    if workflow is not None:
        query = query.where(s.sessions.c.workflow_name == workflow)
    if last_id is not None:
        query = query.where(s.sessions.c.id < last_id)
    return [_row(r) for r in conn.execute(query.order_by(s.sessions.c.id.desc()).limit(page_size))]


def set_resume(conn: Connection, attempt_id: int, *, from_attempt: int, mode: str, task: str | None) -> None:
    conn.execute(update(s.attempts).where(s.attempts.c.id == attempt_id).values(
        resume_attempt_id=from_attempt, resume_mode=mode, resume_from=task))


def request_kill(conn: Connection, attempt_id: int) -> dict[str, Any]:
    """Ask the attempt's node to stop it; an attempt still queued ends killed at once, without running
    (compare-and-set: one admitted meanwhile is asked to stop like any other)."""
    ended = conn.execute(update(s.attempts).where(s.attempts.c.id == attempt_id, s.attempts.c.state_flags == QUEUED)
                         .values(state_flags=DONE | CANCEL_REQUESTED, finished_at=time.time()))
    if ended.rowcount == 1:
        return get_attempt(conn, attempt_id)
    attempt = get_attempt(conn, attempt_id)
    if attempt["state_flags"] & (DONE | CANCEL_REQUESTED):
        raise Conflict(f"attempt {attempt_id} is already {'done' if attempt['state_flags'] & DONE else 'being killed'}")
    conn.execute(update(s.attempts).where(s.attempts.c.id == attempt_id)
                 .values(state_flags=s.attempts.c.state_flags.op("|")(CANCEL_REQUESTED)))
    return get_attempt(conn, attempt_id)


def claim_attempts(conn: Connection, *, owner: str, lease_seconds: float, limit: int,
                   exclude: Sequence[int] = ()) -> list[int]:
    """Take up to `limit` unfinished attempts that no live node holds and no queue holds back
    (compare-and-set per row)."""
    now = time.time()
    previous = s.attempts.alias("previous")
    ready = or_(s.attempts.c.after_attempt_id.is_(None),  # not waiting for another attempt to end
                s.attempts.c.state_flags.op("&")(CANCEL_REQUESTED) != 0,  # killed: it ends at once
                select(previous.c.id).where(previous.c.id == s.attempts.c.after_attempt_id,
                                            previous.c.state_flags.op("&")(DONE) != 0).exists())
    free = and_(s.attempts.c.state_flags.op("&")(DONE | QUEUED) == 0,
                or_(s.attempts.c.lease_owner.is_(None), s.attempts.c.lease_expires_at < now), ready)
    query = select(s.attempts.c.id).where(free).order_by(s.attempts.c.id).limit(limit + len(exclude))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed: list[int] = []
    for (attempt_id,) in conn.execute(query).all():
        if attempt_id in exclude or len(claimed) >= limit:
            continue
        result = conn.execute(update(s.attempts).where(s.attempts.c.id == attempt_id, free)
                              .values(lease_owner=owner, lease_expires_at=now + lease_seconds))
        if result.rowcount == 1:
            claimed.append(int(attempt_id))
    return claimed


def renew_leases(conn: Connection, *, owner: str, attempt_ids: Sequence[int], lease_seconds: float) -> list[int]:
    """Extend this node's leases; returns the attempts it still holds."""
    if not attempt_ids:
        return []
    conn.execute(update(s.attempts).where(s.attempts.c.id.in_(list(attempt_ids)), s.attempts.c.lease_owner == owner)
                 .values(lease_expires_at=time.time() + lease_seconds))
    rows = conn.execute(select(s.attempts.c.id).where(s.attempts.c.id.in_(list(attempt_ids)),
                                                      s.attempts.c.lease_owner == owner)).all()
    return [int(r[0]) for r in rows]


def release_lease(conn: Connection, *, owner: str, attempt_id: int) -> None:
    conn.execute(update(s.attempts).where(s.attempts.c.id == attempt_id, s.attempts.c.lease_owner == owner)
                 .values(lease_owner=None, lease_expires_at=None))


def cancel_requested(conn: Connection, attempt_ids: Sequence[int]) -> list[int]:
    if not attempt_ids:
        return []
    rows = conn.execute(select(s.attempts.c.id).where(
        s.attempts.c.id.in_(list(attempt_ids)), s.attempts.c.state_flags.op("&")(CANCEL_REQUESTED) != 0)).all()
    return [int(r[0]) for r in rows]


def list_task_rows(conn: Connection, attempt_id: int) -> list[dict[str, Any]]:
    # as mappings: a third faster than dicts of rows (10,000 tasks for an attempt page: docs/performance.md)
    query = select(s.tasks).where(s.tasks.c.attempt_id == attempt_id).order_by(s.tasks.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def task_count(conn: Connection, attempt_id: int) -> int:
    return int(conn.execute(select(func.count()).select_from(s.tasks).where(s.tasks.c.attempt_id == attempt_id)).scalar() or 0)


def task_versions(conn: Connection, attempt_id: int, since: float | None = None) -> dict[int, tuple[Any, ...]]:
    """What tells whether an attempt's tasks changed, by task id: (updated_at, state, flags); only
    tasks updated at or after `since` when it is given."""
    t = s.tasks.c
    query = select(t.id, t.updated_at, t.state, t.flags).where(t.attempt_id == attempt_id)
    if since is not None:
        query = query.where(t.updated_at >= since)
    return {int(r[0]): (float(r[1]), int(r[2]), int(r[3])) for r in conn.execute(query)}


def task_rows(conn: Connection, attempt_id: int, task_ids: Sequence[int]) -> list[dict[str, Any]]:
    """These tasks of an attempt, by id."""
    out: list[dict[str, Any]] = []
    ids = sorted(task_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(s.tasks).where(s.tasks.c.attempt_id == attempt_id,
                                                  s.tasks.c.id.in_(ids[start:start + 500])).order_by(s.tasks.c.id))
        out += [_row(r) for r in rows]
    return out


def task_start_times(conn: Connection, attempt_id: int) -> dict[str, float]:
    """When each task of an attempt (by full name) first started; tasks that never started are absent."""
    t = s.tasks.c
    rows = conn.execute(select(t.full_name, func.min(t.started_at)).where(
        t.attempt_id == attempt_id, t.started_at.is_not(None)).group_by(t.full_name)).all()
    return {str(name): float(started) for name, started in rows}


# ----------------------------------------------------------------------------- secrets


def put_secret(conn: Connection, project_id: int, key: str, encrypted: str) -> None:
    now = time.time()
    updated = conn.execute(update(s.secrets).where(s.secrets.c.project_id == project_id, s.secrets.c.key == key)
                           .values(value=encrypted, updated_at=now))
    if updated.rowcount == 0:
        conn.execute(insert(s.secrets).values(project_id=project_id, key=key, value=encrypted, updated_at=now))


def delete_secret(conn: Connection, project_id: int, key: str) -> bool:
    return bool(conn.execute(delete(s.secrets).where(s.secrets.c.project_id == project_id,
                                                     s.secrets.c.key == key)).rowcount)


def secret_keys(conn: Connection, project_id: int) -> list[str]:
    rows = conn.execute(select(s.secrets.c.key).where(s.secrets.c.project_id == project_id).order_by(s.secrets.c.key))
    return [r[0] for r in rows]


def secret_value(conn: Connection, project_id: int, key: str) -> str | None:
    return conn.execute(select(s.secrets.c.value).where(s.secrets.c.project_id == project_id,
                                                        s.secrets.c.key == key)).scalar()
