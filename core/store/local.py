"""The store of local runs: one sqlite3 connection to `.digpy/state.db`, without SQLAlchemy.

Local runs open SQLite through the standard library and never import SQLAlchemy (0.15 s of
start-up, measured in docs/performance.md): the schema is created from the generated DDL of
digpy.core.store.sqlite_ddl, and alembic is loaded only to upgrade a store of an older schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from digpy.core.errors import ConfigError
from digpy.core.store import SCHEMA_REVISION
from digpy.core.store.sql import Store, sqlite_pragmas

LOCAL_DIR = ".digpy"
LOCAL_DB = "state.db"
_VERSION_TABLE = "alembic_version"


def _connect_sqlite(path: str) -> sqlite3.Connection:
    raw = sqlite3.connect(path, check_same_thread=False)
    sqlite_pragmas(raw)
    return raw


class LocalStore(Store):
    """A store on one sqlite3 connection (a local run is one process with one event loop)."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        super().__init__("sqlite")
        self.raw = raw

    @classmethod
    def open_local(cls, project_dir: Path) -> LocalStore:
        """The store of local runs: `.digpy/state.db` in the project, created or upgraded as needed."""
        directory = project_dir / LOCAL_DIR
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"cannot keep the local state in {directory}: {e.strerror or e}",
                              hint=f"{LOCAL_DIR} must be a directory digpy may write to") from None
        path = str(directory / LOCAL_DB)
        try:
            return cls._sqlite(path)
        except sqlite3.OperationalError as e:  # locked, read-only, disk full
            raise ConfigError(f"cannot use {path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise ConfigError(f"{path} is not a digpy state database ({e})",
                              hint=f"move {directory} away to start a new local state") from None

    @classmethod
    def memory(cls) -> LocalStore:
        """A throw-away store (tests)."""
        return cls._sqlite(":memory:")

    @classmethod
    def local_copy(cls, project_dir: Path) -> LocalStore:
        """A throw-away copy of the local store in memory, for a dry run: it sees the saved sessions
        and results (the same session is reused, succeeded tasks are skipped), and the file is left
        as it was."""
        path = project_dir / LOCAL_DIR / LOCAL_DB
        if not path.is_file():
            return cls.memory()
        copy = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                source.backup(copy)
            finally:
                source.close()
        except sqlite3.Error as e:
            copy.close()
            raise ConfigError(f"cannot read {path}: {e}") from None
        store = cls(copy)
        if store._ensure_sqlite_schema():
            return store
        store.close()  # a store of another schema revision: start from nothing, as before
        return cls.memory()

    @classmethod
    def _sqlite(cls, path: str) -> LocalStore:
        store = cls(_connect_sqlite(path))
        if store._ensure_sqlite_schema():
            return store
        store.close()
        from alembic.util import CommandError
        from sqlalchemy import create_engine

        from digpy.core.store import migrate

        engine = create_engine(f"sqlite:///{path}")
        try:
            migrate.upgrade(engine)
        except CommandError as e:  # e.g. a revision this digpy does not know: written by a newer one
            raise ConfigError(f"{path}: cannot bring the store to schema {SCHEMA_REVISION} ({e})",
                              hint="it was probably written by a newer digpy: upgrade digpy, or move "
                                   f"{Path(path).parent} away to start a new local state") from None
        finally:
            engine.dispose()
        return cls(_connect_sqlite(path))

    def _ensure_sqlite_schema(self) -> bool:
        """Create the schema in an empty SQLite database; False if an existing one needs an upgrade."""
        from digpy.core.store.sqlite_ddl import STATEMENTS

        raw = self.raw
        raw.execute("BEGIN IMMEDIATE")  # two first runs at once: the second waits, then sees the tables
        try:
            tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                for statement in STATEMENTS:
                    raw.execute(statement)
                raw.execute(f"CREATE TABLE {_VERSION_TABLE} (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
                raw.execute(f"INSERT INTO {_VERSION_TABLE} (version_num) VALUES (?)", (SCHEMA_REVISION,))
                raw.commit()
                return True
            row = raw.execute(f"SELECT version_num FROM {_VERSION_TABLE}").fetchone() \
                if _VERSION_TABLE in tables else None
            raw.rollback()
        except BaseException:
            raw.rollback()
            raise
        return row is not None and row[0] == SCHEMA_REVISION

    def close(self) -> None:
        self.raw.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        raw = self.raw
        cursor = raw.cursor()
        try:
            yield cursor
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            cursor.close()


__all__ = ["LOCAL_DB", "LOCAL_DIR", "LocalStore"]
