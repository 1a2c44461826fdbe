"""Retention: which finished sessions may go, and removing them with their attempts, tasks and waits.

A session is removed whole (every attempt of it) once the policy says it is old: all its attempts
ended before the age limit, or it is not among the newest sessions of its workflow (by creation)
that the count limit keeps. The policy is the server's, or for a workflow whose current definition
has its own `retention:`, that one's keys in place of the server's (workflow_policies). Whatever the
policy, a session stays while

- one of its attempts has not ended (running, queued, or being killed);
- an attempt that has not ended resumes from one of its attempts (`retry --resume`), waits for one
  (`require>`), or starts only once one has ended (a backfill chain, a schedule's `overlap: wait`);
- it is the newest session (by session time) of its workflow: `--session last` and
  `last_executed_session_time` are read from it;
- it holds the highest session or attempt id: SQLite would hand that id out again, and a client
  that knew the old attempt would then see another.

Data functions in the catalog's manner: they take a connection and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, delete, exists, false, func, or_, select, tuple_, union

from digpy.core.store import DONE
from digpy.core.store import schema as s


class RetentionPolicy(NamedTuple):
    """How much history to keep: sessions whose attempts all ended more than `max_age` seconds
    ago go, and so do those beyond the newest `keep` of each workflow. None: no such limit."""

    max_age: float | None = None
    keep: int | None = None

    @property
    def limited(self) -> bool:
        return self.max_age is not None or self.keep is not None


class Removed(NamedTuple):
    """What a removal took (or would take): counts of rows, and the attempts' ids (their logs)."""

    sessions: int
    attempts: int
    tasks: int
    waits: int
    attempt_ids: tuple[int, ...]


def _unfinished(attempts: Any) -> Any:
    return attempts.c.state_flags.op("&")(DONE) == 0


class WorkflowRetention(NamedTuple):
    """A workflow whose current definition has its own `retention:`, and the policy it makes with the
    server's (the workflow's keys in place of the server's)."""

    project_id: int
    workflow_name: str
    policy: RetentionPolicy


def workflow_policies(conn: Connection, server: RetentionPolicy) -> list[WorkflowRetention]:
    """The workflows of the latest revision of each project (not deleted) that have their own retention."""
    defs, revisions, projects = s.workflow_definitions, s.revisions, s.projects
    latest = select(revisions.c.project_id, func.max(revisions.c.id).label("revision_id")) \
        .group_by(revisions.c.project_id).subquery()
    query = (select(defs.c.project_id, defs.c.name, defs.c.retention_age, defs.c.retention_sessions)
             .join(latest, latest.c.revision_id == defs.c.revision_id)
             .join(projects, projects.c.id == defs.c.project_id)
             .where(or_(defs.c.retention_age.is_not(None), defs.c.retention_sessions.is_not(None)),
                    projects.c.deleted_at.is_(None))
             .order_by(defs.c.project_id, defs.c.name))
    return [WorkflowRetention(int(row.project_id), row.name, RetentionPolicy(
        server.max_age if row.retention_age is None else float(row.retention_age),
        server.keep if row.retention_sessions is None else int(row.retention_sessions)))
        for row in conn.execute(query)]


def prunable_sessions(conn: Connection, policy: RetentionPolicy, *, now: float, after_id: int = 0,
                      limit: int = 200, workflow: tuple[int, str] | None = None,
                      exclude: Sequence[tuple[int, str]] = ()) -> list[int]:
    """Ids (ascending, above `after_id`, at most `limit`) of the sessions the policy removes at `now`:
    of one `workflow` (project id, name) only, or of all workflows but those in `exclude`."""
    if not policy.limited:
        return []
    sessions, attempts = s.sessions, s.attempts
    which: list[Any] = []
    if workflow is not None:
        which = [sessions.c.project_id == workflow[0], sessions.c.workflow_name == workflow[1]]
    elif exclude:
        which = [tuple_(sessions.c.project_id, sessions.c.workflow_name).not_in(list(exclude))]
    newer, top_session, top_attempt, pending = (sessions.alias("newer"), sessions.alias("top_session"),
                                                attempts.alias("top_attempt"), attempts.alias("pending"))
    waits = s.attempt_waits
    # Attempts that an unfinished attempt still needs: few (only unfinished attempts have them).
    needed = union(
        select(pending.c.resume_attempt_id).where(_unfinished(pending), pending.c.resume_attempt_id.is_not(None)),
        select(pending.c.after_attempt_id).where(_unfinished(pending), pending.c.after_attempt_id.is_not(None)),
        select(waits.c.waits_for).join(pending, pending.c.id == waits.c.attempt_id).where(_unfinished(pending)),
    ).subquery()
    of_session = attempts.c.session_id == sessions.c.id
    keep = [
        ~exists().where(of_session, _unfinished(attempts)),
        ~exists().where(of_session, attempts.c.id.in_(select(needed.c[0]))),
        exists().where(newer.c.project_id == sessions.c.project_id, newer.c.workflow_name == sessions.c.workflow_name,
                       newer.c.session_time > sessions.c.session_time),
        sessions.c.id < select(func.max(top_session.c.id)).scalar_subquery(),
        ~exists().where(of_session, attempts.c.id == select(func.max(top_attempt.c.id)).scalar_subquery()),
    ]
    old: list[Any] = []
    if policy.max_age is not None:
        cutoff = now - policy.max_age
        old.append(and_(sessions.c.created_at < cutoff, ~exists().where(
            of_session, func.coalesce(attempts.c.finished_at, attempts.c.created_at) >= cutoff)))
    if policy.keep is not None:
        ranked = select(sessions.c.id, func.row_number().over(
            partition_by=(sessions.c.project_id, sessions.c.workflow_name),
            order_by=sessions.c.id.desc()).label("rank")).where(*which).subquery()
        old.append(sessions.c.id.in_(select(ranked.c.id).where(ranked.c.rank > policy.keep)))
    query = (select(sessions.c.id).where(sessions.c.id > after_id, *which, *keep, or_(false(), *old))
             .order_by(sessions.c.id).limit(limit))
    return [int(row[0]) for row in conn.execute(query)]


def remove_sessions(conn: Connection, session_ids: Sequence[int], *, dry_run: bool = False) -> Removed:
    """Delete these sessions with their attempts, the attempts' tasks and their waits (or, with
    `dry_run`, only count them). A session that got a new attempt meanwhile stays, with it."""
    sessions, attempts, tasks, waits = s.sessions, s.attempts, s.tasks, s.attempt_waits
    ids = list(session_ids)
    if not ids:
        return Removed(0, 0, 0, 0, ())
    attempt_ids = [int(r[0]) for r in conn.execute(
        select(attempts.c.id).where(attempts.c.session_id.in_(ids), ~_unfinished(attempts)))]
    of_attempts = or_(waits.c.attempt_id.in_(attempt_ids), waits.c.waits_for.in_(attempt_ids))
    if dry_run:
        return Removed(
            len(ids), len(attempt_ids),
            conn.execute(select(func.count()).select_from(tasks).where(tasks.c.attempt_id.in_(attempt_ids))).scalar_one(),
            conn.execute(select(func.count()).select_from(waits).where(of_attempts)).scalar_one(),
            tuple(attempt_ids))
    removed_tasks = conn.execute(delete(tasks).where(tasks.c.attempt_id.in_(attempt_ids))).rowcount
    removed_waits = conn.execute(delete(waits).where(of_attempts)).rowcount
    conn.execute(delete(attempts).where(attempts.c.id.in_(attempt_ids)))
    removed_sessions = conn.execute(delete(sessions).where(
        sessions.c.id.in_(ids), ~exists().where(attempts.c.session_id == sessions.c.id))).rowcount
    return Removed(removed_sessions, len(attempt_ids), removed_tasks, removed_waits, tuple(attempt_ids))


# The tables whose rows point at sessions or attempts, and what removal does with them (a test
# checks that every foreign key to those two tables is listed here). attempts.resume_attempt_id and
# after_attempt_id are no foreign keys: an unfinished attempt keeps what they name (above); a
# finished one keeps the number of an attempt that may be gone.
REFERENCES = {
    ("attempts", "session_id"): "removed with their session",
    ("tasks", "attempt_id"): "removed with their attempt",
    ("attempt_waits", "attempt_id"): "removed with their attempt",
    ("attempt_waits", "waits_for"): "removed with the attempt waited for (an unfinished waiter keeps it)",
}


__all__ = ["REFERENCES", "Removed", "RetentionPolicy", "WorkflowRetention", "prunable_sessions", "remove_sessions",
           "workflow_policies"]
