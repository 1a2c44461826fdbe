"""The server's store: SQLite or PostgreSQL through a pool of SQLAlchemy connections.

Each unit of work takes a connection from the pool for one transaction (`begin()` for the catalog's
queries, the shared SQL of digpy.core.store.sql for the hot path), so that any thread may use the
store: the server runs its database work in a thread pool, off the event loop that serves the API.

Listeners (`listeners`) learn which attempts a transaction changed (their rows or their tasks') once
it has committed: the server's live pages follow attempts through them. On PostgreSQL the same
changes are also notified on CHANGES_CHANNEL, for the servers of other processes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from digpy.core.errors import ConfigError
from digpy.core.store.sql import CHANGES_CHANNEL, Store, sqlite_pragmas

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

POOL_SIZE = 16


class ServerStore(Store):
    """A store over a SQLAlchemy engine and its connection pool."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.dialect.name)
        self.engine = engine
        self._local = threading.local()  # the transaction this thread is in, if any
        # Called (in the committing thread) with the attempts a transaction changed, after its commit.
        self.listeners: list[Callable[[frozenset[int]], None]] = []

    @classmethod
    def open(cls, url: str) -> ServerStore:
        """Open a database through SQLAlchemy (the server); it must be at the current schema
        (see digpy.core.store.migrate)."""
        from sqlalchemy import event
        from sqlalchemy.exc import SQLAlchemyError

        from digpy.core.store.url import create_engine, error_line, safe_url

        # No pre-ping (a round trip per transaction): a connection the database dropped fails one unit
        # of work, and the pool replaces it.
        kwargs: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": POOL_SIZE, "pool_recycle": 3600}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", sqlite_pragmas)
        try:
            with engine.connect():
                pass
            return cls(engine)
        except SQLAlchemyError as e:  # refused, unknown host or user, a file that cannot be opened
            engine.dispose()
            raise ConfigError(f"can't open the database {safe_url(url)}: {error_line(e)}") from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A pooled connection in a transaction that commits at the end of the block (the catalog's
        functions take it and never commit). Inside another `begin` of the same thread, the block
        joins that transaction: a unit of work (start an attempt: its session, the attempt, the
        session's last attempt) is one transaction, whatever functions it calls."""
        current: Connection | None = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        changed: set[int] = set()
        with self.engine.begin() as conn:
            self._local.conn = conn
            self._local.changed = changed
            try:
                yield conn
            finally:
                self._local.conn = None
                self._local.changed = None
        if changed:  # committed
            for listener in self.listeners:
                listener(frozenset(changed))

    def _changed(self, attempt_id: int) -> None:
        pending: set[int] | None = getattr(self._local, "changed", None)
        if pending is not None:
            pending.add(attempt_id)

    def changed(self, conn: Connection, attempt_id: int) -> None:
        """Say that the transaction of `conn` (a `begin()` block) changes an attempt (a kill, say):
        listeners learn it after the commit, and other servers through PostgreSQL's CHANGES_CHANNEL."""
        from sqlalchemy import text

        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_notify(:channel, :id)"), {"channel": CHANGES_CHANNEL, "id": str(attempt_id)})
        self._changed(attempt_id)

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        with self.begin() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                yield cursor
            finally:
                cursor.close()

    def close(self) -> None:
        self.engine.dispose()


__all__ = ["ServerStore"]
