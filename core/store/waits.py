"""Which attempts an attempt waits for (its `require>` tasks), in the server's database.

Each function takes a Connection and never commits: the caller owns the transaction.
"""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from digpy.core.store import schema as s


def record_wait(conn: Connection, attempt_id: int, waits_for: int) -> None:
    """Remember that `attempt_id` waits for `waits_for` (recording it twice is harmless)."""
    exists = conn.execute(select(s.attempt_waits.c.attempt_id).where(
        s.attempt_waits.c.attempt_id == attempt_id, s.attempt_waits.c.waits_for == waits_for)).first()
    if exists is None:
        conn.execute(insert(s.attempt_waits).values(attempt_id=attempt_id, waits_for=waits_for))


def waits_of(conn: Connection, attempt_id: int) -> list[int]:
    """The attempts `attempt_id` has waited for."""
    rows = conn.execute(select(s.attempt_waits.c.waits_for).where(s.attempt_waits.c.attempt_id == attempt_id))
    return [int(r[0]) for r in rows]


def waited_by(conn: Connection, attempt_id: int) -> list[int]:
    """The attempts that have waited for `attempt_id` (their `require>` tasks started or found it)."""
    rows = conn.execute(select(s.attempt_waits.c.attempt_id).where(s.attempt_waits.c.waits_for == attempt_id)
                        .order_by(s.attempt_waits.c.attempt_id))
    return [int(r[0]) for r in rows]
