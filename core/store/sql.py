"""The SQL store: projects, sessions, attempts and their tasks, on a DB-API connection.

Every statement here is plain SQL that SQLite and PostgreSQL both accept, run on the driver's
connection: local runs open SQLite through the standard library and never import SQLAlchemy
(0.15 s of start-up, measured in docs/performance.md). The server opens its database through
SQLAlchemy (`Store.open`) for the catalog's queries and migrations, and this store then works on
the same connection. The runner writes task changes in batches through `write_tasks`, one
transaction per batch, and acts on a transition only after the batch that holds it is committed.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from digpy.core.errors import ConfigError
from digpy.core.store import CANCEL_REQUESTED, DONE, SCHEMA_REVISION, SUCCESS
from digpy.core.workflow.model import Task, TaskFlags, TaskState
from digpy.core.workflow.resume import ActionRecord

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


def _dumps(value: Any) -> str:
    """Compact JSON; empty mappings and lists (most task fields) skip the encoder."""
    if not value:
        if isinstance(value, dict):
            return "{}"
        if isinstance(value, list):
            return "[]"
    return _encode(value)
_loads = json.loads
LOCAL_DIR = ".digpy"
LOCAL_DB = "state.db"


def random_uuid() -> str:
    """A random (version 4) UUID as text; the uuid module costs 2 % of a local run's start-up (it imports
    platform)."""
    b = bytearray(os.urandom(16))
    b[6] = b[6] & 0x0F | 0x40  # version 4
    b[8] = b[8] & 0x3F | 0x80  # the RFC 4122 variant
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# Task columns an update writes (the rest never change after the insert).
_UPDATED = ("state", "flags", "retry_count", "retry_at", "started_at", "updated_at", "state_params",
            "store_params", "export_params", "reset_store", "subtask_config", "error")


class SessionRecord(NamedTuple):
    id: int
    project_id: int
    workflow_name: str
    session_time: int  # epoch seconds
    session_uuid: str


class AttemptRecord(NamedTuple):
    id: int
    session_id: int
    project_id: int
    workflow_name: str
    attempt_name: str | None
    attempt_index: int
    timezone: str
    params: dict[str, Any]
    state_flags: int
    created_at: float
    finished_at: float | None


_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # A commit survives a killed process without fsync; only a power loss can lose the last one.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
)
_TASK_COLUMNS = ("attempt_id", "id", "parent_id", "name", "full_name", "is_group", "state", "flags", "retry_count",
                 "retry_at", "started_at", "updated_at", "upstreams", "config", "export", "state_params",
                 "store_params", "export_params", "reset_store", "subtask_config", "error")
_INSERT_TASK = f"INSERT INTO tasks ({', '.join(_TASK_COLUMNS)}) VALUES ({', '.join('?' * len(_TASK_COLUMNS))})"
_UPDATE_TASK = f"UPDATE tasks SET {', '.join(f'{c} = ?' for c in _UPDATED)} WHERE attempt_id = ? AND id = ?"
_ACTION_STATES = ", ".join(str(int(s)) for s in (TaskState.SUCCESS, TaskState.PLANNED, TaskState.GROUP_ERROR))
_NAMED = re.compile(r"(?<!:):(\w+)")


@functools.lru_cache(maxsize=256)
def _pyformat(text: str) -> str:
    """`:name` parameters as psycopg's `%(name)s` (statements are few: each is rewritten once)."""
    return _NAMED.sub(r"%(\1)s", text)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    for pragma in _PRAGMAS:
        dbapi_connection.execute(pragma)


def _connect_sqlite(path: str) -> sqlite3.Connection:
    raw = sqlite3.connect(path, check_same_thread=False)
    _sqlite_pragmas(raw)
    return raw


class Store:
    """One database (SQLite file or PostgreSQL) holding projects, sessions, attempts and tasks.

    `engine` and `conn` (SQLAlchemy) exist only on a store opened with `Store.open`.
    """

    def __init__(self, raw: Any = None, *, dialect: str = "sqlite", engine: Engine | None = None) -> None:
        self.engine = engine
        self.conn: Connection | None = engine.connect() if engine is not None else None
        self._raw = raw
        self.dialect = dialect
        if dialect == "sqlite":
            self._sql = lambda text: text
            self._insert_task, self._update_task = _INSERT_TASK, _UPDATE_TASK
        else:  # psycopg: pyformat parameters
            self._sql = _pyformat
            self._insert_task, self._update_task = _INSERT_TASK.replace("?", "%s"), _UPDATE_TASK.replace("?", "%s")

    @property
    def raw(self) -> Any:
        """The DB-API connection (the one under `conn` on a store opened with `Store.open`)."""
        if self.conn is not None:
            return self.conn.connection.dbapi_connection
        return self._raw

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, url: str) -> Store:
        """Open a database through SQLAlchemy (the server); it must be at the current schema
        (see digpy.core.store.migrate)."""
        from sqlalchemy import event
        from sqlalchemy.exc import SQLAlchemyError

        from digpy.core.store.url import create_engine, error_line, safe_url

        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            return cls(dialect=engine.dialect.name, engine=engine)
        except SQLAlchemyError as e:  # refused, unknown host or user, a file that cannot be opened
            engine.dispose()
            raise ConfigError(f"can't open the database {safe_url(url)}: {error_line(e)}") from None

    @classmethod
    def open_local(cls, project_dir: Path) -> Store:
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
    def memory(cls) -> Store:
        """A throw-away store (tests)."""
        return cls._sqlite(":memory:")

    @classmethod
    def local_copy(cls, project_dir: Path) -> Store:
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
    def _sqlite(cls, path: str) -> Store:
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

        raw = self._raw
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
        if self.conn is not None:
            self.conn.close()
        if self.engine is not None:
            self.engine.dispose()
        if self._raw is not None:
            self._raw.close()

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """A cursor in a transaction that commits on success and rolls back on an error."""
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

    def _one(self, sql: str, params: dict[str, Any]) -> Any:
        with self._tx() as cursor:
            cursor.execute(self._sql(sql), params)
            return cursor.fetchone()

    # ------------------------------------------------------------------ projects, sessions, attempts

    def ensure_project(self, name: str) -> int:
        now = time.time()
        with self._tx() as cursor:
            cursor.execute(self._sql(
                "INSERT INTO projects (name, created_at, updated_at) VALUES (:name, :now, :now) "
                "ON CONFLICT DO NOTHING"), {"name": name, "now": now})
            cursor.execute(self._sql("SELECT id FROM projects WHERE name = :name"), {"name": name})
            return int(cursor.fetchone()[0])

    def session_for(self, project_id: int, workflow_name: str, session_time: int) -> SessionRecord:
        """The session of (project, workflow, session time), created if needed (also by two
        processes at once: the unique key decides)."""
        key = {"p": project_id, "w": workflow_name, "t": session_time}
        with self._tx() as cursor:
            cursor.execute(self._sql(
                "INSERT INTO sessions (project_id, workflow_name, session_time, session_uuid, created_at) "
                "VALUES (:p, :w, :t, :u, :now) ON CONFLICT DO NOTHING"),
                {**key, "u": random_uuid(), "now": time.time()})
            cursor.execute(self._sql(
                "SELECT id, session_uuid FROM sessions "
                "WHERE project_id = :p AND workflow_name = :w AND session_time = :t"), key)
            row = cursor.fetchone()
        return SessionRecord(int(row[0]), project_id, workflow_name, session_time, row[1])

    def create_attempt(
        self, session: SessionRecord, *, timezone: str, params: dict[str, Any], attempt_name: str | None = None,
        workflow_definition_id: int | None = None,
    ) -> AttemptRecord:
        now = time.time()
        with self._tx() as cursor:
            cursor.execute(self._sql("SELECT COUNT(*) FROM attempts WHERE session_id = :s"), {"s": session.id})
            index = int(cursor.fetchone()[0]) + 1
            # SQLite's RETURNING needs 3.35 (2021); lastrowid works with every version.
            returning = "" if self.dialect == "sqlite" else " RETURNING id"
            cursor.execute(self._sql(
                "INSERT INTO attempts (session_id, project_id, workflow_name, workflow_definition_id, attempt_name, "
                "attempt_index, timezone, params, state_flags, created_at) "
                "VALUES (:s, :p, :w, :d, :n, :i, :tz, :params, 0, :now)" + returning),
                {"s": session.id, "p": session.project_id, "w": session.workflow_name, "d": workflow_definition_id,
                 "n": attempt_name, "i": index, "tz": timezone, "params": _dumps(params), "now": now})
            attempt_id = int(cursor.lastrowid if not returning else cursor.fetchone()[0])
            cursor.execute(self._sql("UPDATE sessions SET last_attempt_id = :a WHERE id = :s"),
                           {"a": attempt_id, "s": session.id})
        return AttemptRecord(attempt_id, session.id, session.project_id, session.workflow_name, attempt_name,
                             index, timezone, params, 0, now, None)

    def finish_attempt(self, attempt_id: int, *, success: bool, canceled: bool) -> None:
        flags = DONE | (SUCCESS if success else 0) | (CANCEL_REQUESTED if canceled else 0)
        with self._tx() as cursor:  # added to the flags: a kill requested before stays visible, as in Digdag
            cursor.execute(self._sql("UPDATE attempts SET state_flags = state_flags | :f, finished_at = :now "
                                     "WHERE id = :a"),
                           {"f": flags, "now": time.time(), "a": attempt_id})

    def latest_session_time(self, project_id: int, workflow_name: str) -> int | None:
        """The newest session time of a workflow (what `--session last` reuses)."""
        row = self._one("SELECT MAX(session_time) FROM sessions WHERE project_id = :p AND workflow_name = :w",
                        {"p": project_id, "w": workflow_name})
        return None if row[0] is None else int(row[0])

    def last_executed_session_time(self, project_id: int, workflow_name: str, before: int) -> int | None:
        """The newest session time before `before` that has an attempt."""
        row = self._one(
            "SELECT MAX(session_time) FROM sessions WHERE project_id = :p AND workflow_name = :w "
            "AND session_time < :b AND last_attempt_id IS NOT NULL",
            {"p": project_id, "w": workflow_name, "b": before})
        return None if row[0] is None else int(row[0])

    def prior_actions(self, session_id: int, before_attempt: int) -> dict[str, ActionRecord]:
        """Operator tasks of earlier attempts of a session whose own action succeeded, by full name."""
        return self._actions("a.session_id = :s AND a.id < :b", {"s": session_id, "b": before_attempt})

    def attempt_actions(self, attempt_id: int) -> dict[str, ActionRecord]:
        """Operator tasks of one attempt whose own action succeeded (what a resumed retry skips)."""
        return self._actions("a.id = :a", {"a": attempt_id})

    def _actions(self, which: str, params: dict[str, Any]) -> dict[str, ActionRecord]:
        query = (
            "SELECT t.full_name, t.flags, t.store_params, t.export_params, t.reset_store, t.subtask_config "
            "FROM tasks t JOIN attempts a ON a.id = t.attempt_id "
            f"WHERE {which} AND t.is_group = :no AND t.error IS NULL AND t.state IN ({_ACTION_STATES}) "
            "ORDER BY t.attempt_id, t.id"
        )
        out: dict[str, ActionRecord] = {}
        with self._tx() as cursor:
            cursor.execute(self._sql(query), {**params, "no": False})
            for full_name, flags, store, export, reset, subtasks in cursor.fetchall():
                if flags & TaskFlags.DELAYED_ERROR:
                    continue
                out[full_name] = ActionRecord(_loads(store), _loads(export), _loads(reset),
                                              _loads(subtasks) if subtasks else None)
        return out

    def has_tasks(self, attempt_id: int) -> bool:
        return self._one("SELECT id FROM tasks WHERE attempt_id = :a LIMIT 1", {"a": attempt_id}) is not None

    # ------------------------------------------------------------------ tasks (the hot path)

    def write_tasks(self, attempt_id: int, created: Sequence[Task], changed: Iterable[Task]) -> None:
        """Persist new and changed tasks of an attempt in one transaction."""
        changed = list(changed)
        if not created and not changed:
            return
        with self._tx() as cursor:
            if created:
                cursor.executemany(self._insert_task, [_insert_row(attempt_id, t) for t in created])
            if changed:
                cursor.executemany(self._update_task, [_update_row(attempt_id, t) for t in changed])

    def load_tasks(self, attempt_id: int) -> list[Task]:
        with self._tx() as cursor:
            cursor.execute(self._sql(f"SELECT {', '.join(_TASK_COLUMNS)} FROM tasks WHERE attempt_id = :a ORDER BY id"),
                           {"a": attempt_id})
            rows = cursor.fetchall()
        if not rows:
            raise ConfigError(f"attempt {attempt_id} has no tasks")
        return [
            Task(
                id=r[1], parent_id=r[2], name=r[3], full_name=r[4], is_group=bool(r[5]),
                config=_loads(r[13]), export=_loads(r[14]), upstreams=_loads(r[12]),
                state=TaskState(r[6]), flags=r[7], retry_count=r[8], retry_at=r[9],
                started_at=r[10], updated_at=r[11], state_params=_loads(r[15]),
                store_params=_loads(r[16]), export_params=_loads(r[17]), reset_store=_loads(r[18]),
                subtask_config=_loads(r[19]) if r[19] else None,
                error=_loads(r[20]) if r[20] else None,
            )
            for r in rows
        ]


_VERSION_TABLE = "alembic_version"


def _insert_row(attempt_id: int, t: Task) -> tuple[Any, ...]:
    return (
        attempt_id, t.id, t.parent_id, t.name, t.full_name, t.is_group, int(t.state), t.flags, t.retry_count,
        t.retry_at, t.started_at, t.updated_at, _dumps(t.upstreams), _dumps(t.config), _dumps(t.export),
        _dumps(t.state_params), _dumps(t.store_params), _dumps(t.export_params), _dumps(t.reset_store),
        None if t.subtask_config is None else _dumps(t.subtask_config),
        None if t.error is None else _dumps(t.error),
    )


def _update_row(attempt_id: int, t: Task) -> tuple[Any, ...]:
    # In _UPDATED's order, then the key.
    return (
        int(t.state), t.flags, t.retry_count, t.retry_at, t.started_at, t.updated_at, _dumps(t.state_params),
        _dumps(t.store_params), _dumps(t.export_params), _dumps(t.reset_store),
        None if t.subtask_config is None else _dumps(t.subtask_config),
        None if t.error is None else _dumps(t.error),
        attempt_id, t.id,
    )
