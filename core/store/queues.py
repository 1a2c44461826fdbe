"""Admission of queued attempts: which attempts that wait (state flag QUEUED) may start now.

An attempt that waits has a queue (`attempts.queue_name`, whose limit the server's configuration
gives) and/or a limit on the active attempts of its workflow (`attempts.max_active_attempts`).
Active means created and not done, admitted or never queued, whichever node runs it. Admission
walks the waiting attempts in order of creation and admits each that fits both limits, counting
it at once; one that does not fit its queue holds back every younger one of that queue (first in,
first out), one held back by its workflow's limit holds back nobody else.

Several nodes admit at once without exceeding a limit: the counting and the admitting happen
under one lock per database, held until the caller's transaction commits (PostgreSQL: an advisory
transaction lock, after which every statement sees what the previous holder committed; SQLite: the
database's write lock, which a write takes). The admitted attempts are then claimed like any other
(digpy.core.store.catalog.claim_attempts), by this node in the same transaction or by another.

Each function takes a Connection and never commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from sqlalchemy import Connection, bindparam, func, select, update

from digpy.core.store import CANCEL_REQUESTED, QUEUED
from digpy.core.store import schema as s

# The most waiting attempts of one workflow read per admission (the next admission reads on).
PER_WORKFLOW = 100
_ADMISSION_LOCK = 7_020_114_986  # the advisory lock key of admission (any fixed number)
_a = s.attempts.c
_ANY_QUEUED = select(_a.id).where(_a.state_flags == QUEUED).limit(1)
# Active attempts: not done and not waiting (state_flags 0, or 1 once a kill is requested): the
# index on state_flags finds them among every finished attempt.
_ACTIVE = (select(_a.queue_name, _a.project_id, _a.workflow_name, func.count())
           .where(_a.state_flags.in_((0, CANCEL_REQUESTED)))
           .group_by(_a.queue_name, _a.project_id, _a.workflow_name))
_ranked = select(_a.id, _a.queue_name, _a.project_id, _a.workflow_name, _a.max_active_attempts,
                 func.row_number().over(partition_by=(_a.project_id, _a.workflow_name), order_by=_a.id).label("n")
                 ).where(_a.state_flags == QUEUED).subquery()
# The oldest waiting attempts of each workflow, and one more of those that have more (a marker).
_WAITING = select(_ranked).where(_ranked.c.n <= bindparam("most")).order_by(_ranked.c.id)
_ADMIT = update(s.attempts).where(_a.id.in_(bindparam("ids", expanding=True)), _a.state_flags == QUEUED).values(
    state_flags=0)


def admit(conn: Connection, limit_of: Callable[[str], int], *, per_workflow: int = PER_WORKFLOW) -> list[int]:
    """Admit the waiting attempts that fit their limits now, oldest first; `limit_of(queue)` is a
    queue's limit of active attempts. Returns the ids admitted (a kill may have ended one meanwhile)."""
    if conn.execute(_ANY_QUEUED).first() is None:
        return []
    _lock(conn)
    in_queue: Counter[str] = Counter()
    in_workflow: Counter[tuple[int, str]] = Counter()
    for queue, project_id, workflow, count in conn.execute(_ACTIVE):
        if queue is not None:
            in_queue[queue] += count
        in_workflow[(project_id, workflow)] += count
    admitted: list[int] = []
    held_queues: set[str] = set()
    unread: set[tuple[int, str]] = set()  # workflows with waiting attempts beyond those read
    for attempt_id, queue, project_id, workflow, most, n in conn.execute(_WAITING, {"most": per_workflow + 1}):
        key = (project_id, workflow)
        fits_workflow = key not in unread and (most is None or in_workflow[key] < most)
        if n > per_workflow:  # an unread one of this workflow may fit and be older than what follows
            unread.add(key)
            if fits_workflow and queue is not None:
                held_queues.add(queue)
            continue
        if not fits_workflow:
            continue
        if queue is not None:
            if queue in held_queues or in_queue[queue] >= limit_of(queue):
                held_queues.add(queue)
                continue
            in_queue[queue] += 1
        in_workflow[key] += 1
        admitted.append(int(attempt_id))
    if admitted:
        conn.execute(_ADMIT, {"ids": admitted})
    return admitted


def _lock(conn: Connection) -> None:
    """Hold admission's lock until the transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADMISSION_LOCK})")
    else:  # a write takes SQLite's write lock for the rest of the transaction; this one changes nothing
        conn.execute(update(s.attempts).where(_a.id == -1).values(state_flags=_a.state_flags))


__all__ = ["PER_WORKFLOW", "admit"]
