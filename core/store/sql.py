"""The SQL store (SQLAlchemy Core): projects, sessions, attempts and their tasks.

The runner writes task changes in batches through `write_tasks`, one transaction per batch, and
acts on a transition only after the batch that holds it is committed.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from digpy.core.errors import ConfigError
from digpy.core.store import schema as s
from digpy.core.workflow.model import Task, TaskFlags, TaskState

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


# Task columns an update writes (the rest never change after the insert).
_UPDATED = ("state", "flags", "retry_count", "retry_at", "started_at", "updated_at", "state_params",
            "store_params", "export_params", "reset_store", "subtask_config", "error")


class _Compiled:
    """A statement compiled once for the store's dialect and run on the DBAPI cursor.

    The task writes are the store's hot path: going through SQLAlchemy's execution context for
    each batch cost more than SQLite itself (see docs/performance.md).
    """

    def __init__(self, statement: Any, dialect: Any, column_keys: list[str] | None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.sql = compiled.string
        self.order = list(compiled.positiontup) if compiled.positional else None

    def executemany(self, cursor: Any, rows: list[dict[str, Any]]) -> None:
        if self.order is not None:
            order = self.order
            cursor.executemany(self.sql, [tuple(row[k] for k in order) for row in rows])
        else:
            cursor.executemany(self.sql, rows)


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: int
    project_id: int
    workflow_name: str
    session_time: int  # epoch seconds
    session_uuid: str


@dataclass(frozen=True, slots=True)
class AttemptRecord:
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


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """The recorded result of a task's own action, replayed when a later run skips the task."""

    store_params: dict[str, Any]
    export_params: dict[str, Any]
    reset_store: list[str]
    subtask_config: dict[str, Any] | None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # A commit survives a killed process without fsync; only a power loss can lose the last one.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    """One database (SQLite file or PostgreSQL) holding projects, sessions, attempts and tasks."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection = engine.connect()
        update_task = (
            update(s.tasks)
            .where(s.tasks.c.attempt_id == bindparam("b_attempt"), s.tasks.c.id == bindparam("b_id"))
            .values({name: bindparam(f"b_{name}") for name in _UPDATED})
        )
        self._insert_task = _Compiled(insert(s.tasks), engine.dialect, [c.name for c in s.tasks.columns])
        self._update_task = _Compiled(update_task, engine.dialect, None)

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(cls, url: str) -> Store:
        """Open a database that is already at the current schema (see digpy.core.store.migrate)."""
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False}
        engine = create_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return cls(engine)

    @classmethod
    def open_local(cls, project_dir: Path) -> Store:
        """The store of local runs: `.digpy/state.db` in the project, created or upgraded as needed."""
        directory = project_dir / LOCAL_DIR
        directory.mkdir(parents=True, exist_ok=True)
        store = cls.open(f"sqlite:///{directory / LOCAL_DB}")
        store.ensure_schema()
        return store

    @classmethod
    def memory(cls) -> Store:
        """A throw-away store (dry runs, tests)."""
        store = cls.open("sqlite://")
        store.ensure_schema()
        return store

    def ensure_schema(self) -> None:
        """Create the schema in an empty database; upgrade an older one (local stores only)."""
        from digpy.core.store import migrate

        with self.conn.begin():
            current = migrate.current_revision(self.conn)
            if current is None and not inspect(self.conn).get_table_names():
                s.metadata.create_all(self.conn)
                migrate.stamp(self.conn, s.SCHEMA_REVISION)
                return
        if current != s.SCHEMA_REVISION:
            self.conn.close()
            migrate.upgrade(self.engine)
            self.conn = self.engine.connect()

    def close(self) -> None:
        self.conn.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ projects, sessions, attempts

    def ensure_project(self, name: str) -> int:
        with self.conn.begin():
            found = self.conn.execute(select(s.projects.c.id).where(s.projects.c.name == name)).scalar()
            if found is not None:
                return int(found)
            now = time.time()
            result = self.conn.execute(insert(s.projects).values(name=name, created_at=now, updated_at=now))
            return int(result.inserted_primary_key[0])

    def session_for(self, project_id: int, workflow_name: str, session_time: int) -> SessionRecord:
        """The session of (project, workflow, session time), created if needed."""
        where = (
            (s.sessions.c.project_id == project_id)
            & (s.sessions.c.workflow_name == workflow_name)
            & (s.sessions.c.session_time == session_time)
        )
        with self.conn.begin():
            row = self.conn.execute(select(s.sessions).where(where)).first()
            if row is None:
                try:
                    with self.conn.begin_nested():
                        self.conn.execute(insert(s.sessions).values(
                            project_id=project_id, workflow_name=workflow_name, session_time=session_time,
                            session_uuid=str(uuid.uuid4()), created_at=time.time(),
                        ))
                except IntegrityError:
                    pass
                row = self.conn.execute(select(s.sessions).where(where)).one()
        return SessionRecord(row.id, row.project_id, row.workflow_name, row.session_time, row.session_uuid)

    def create_attempt(
        self, session: SessionRecord, *, timezone: str, params: dict[str, Any], attempt_name: str | None = None,
        workflow_definition_id: int | None = None,
    ) -> AttemptRecord:
        now = time.time()
        with self.conn.begin():
            index = self.conn.execute(
                select(func.count()).select_from(s.attempts).where(s.attempts.c.session_id == session.id)
            ).scalar_one() + 1
            result = self.conn.execute(insert(s.attempts).values(
                session_id=session.id, project_id=session.project_id, workflow_name=session.workflow_name,
                workflow_definition_id=workflow_definition_id, attempt_name=attempt_name, attempt_index=index,
                timezone=timezone, params=_dumps(params), state_flags=0, created_at=now,
            ))
            attempt_id = int(result.inserted_primary_key[0])
            self.conn.execute(
                update(s.sessions).where(s.sessions.c.id == session.id).values(last_attempt_id=attempt_id)
            )
        return AttemptRecord(attempt_id, session.id, session.project_id, session.workflow_name, attempt_name,
                             index, timezone, params, 0, now, None)

    def finish_attempt(self, attempt_id: int, *, success: bool, canceled: bool) -> None:
        flags = s.DONE | (s.SUCCESS if success else 0) | (s.CANCEL_REQUESTED if canceled else 0)
        with self.conn.begin():
            self.conn.execute(update(s.attempts).where(s.attempts.c.id == attempt_id)
                              .values(state_flags=flags, finished_at=time.time()))

    def latest_session_time(self, project_id: int, workflow_name: str) -> int | None:
        """The newest session time of a workflow (what `--session last` reuses)."""
        with self.conn.begin():
            value = self.conn.execute(
                select(func.max(s.sessions.c.session_time)).where(
                    (s.sessions.c.project_id == project_id) & (s.sessions.c.workflow_name == workflow_name)
                )
            ).scalar()
        return None if value is None else int(value)

    def last_executed_session_time(self, project_id: int, workflow_name: str, before: int) -> int | None:
        """The newest session time before `before` that has an attempt."""
        with self.conn.begin():
            value = self.conn.execute(
                select(func.max(s.sessions.c.session_time)).where(
                    (s.sessions.c.project_id == project_id) & (s.sessions.c.workflow_name == workflow_name)
                    & (s.sessions.c.session_time < before) & s.sessions.c.last_attempt_id.is_not(None)
                )
            ).scalar()
        return None if value is None else int(value)

    def prior_actions(self, session_id: int, before_attempt: int) -> dict[str, ActionRecord]:
        """Operator tasks of earlier attempts of a session whose own action succeeded, by full name."""
        a = s.attempts
        return self._actions((a.c.session_id == session_id) & (a.c.id < before_attempt))

    def attempt_actions(self, attempt_id: int) -> dict[str, ActionRecord]:
        """Operator tasks of one attempt whose own action succeeded (what a resumed retry skips)."""
        return self._actions(s.attempts.c.id == attempt_id)

    def _actions(self, which: Any) -> dict[str, ActionRecord]:
        t, a = s.tasks, s.attempts
        query = (
            select(t.c.full_name, t.c.state, t.c.flags, t.c.store_params, t.c.export_params, t.c.reset_store,
                   t.c.subtask_config)
            .join(a, a.c.id == t.c.attempt_id)
            .where(which, t.c.is_group.is_(False), t.c.error.is_(None),
                   t.c.state.in_([TaskState.SUCCESS, TaskState.PLANNED, TaskState.GROUP_ERROR]))
            .order_by(t.c.attempt_id, t.c.id)
        )
        out: dict[str, ActionRecord] = {}
        with self.conn.begin():
            for row in self.conn.execute(query):
                if row.flags & TaskFlags.DELAYED_ERROR:
                    continue
                out[row.full_name] = ActionRecord(
                    _loads(row.store_params), _loads(row.export_params), _loads(row.reset_store),
                    _loads(row.subtask_config) if row.subtask_config else None,
                )
        return out

    def has_tasks(self, attempt_id: int) -> bool:
        with self.conn.begin():
            return self.conn.execute(select(s.tasks.c.id).where(s.tasks.c.attempt_id == attempt_id).limit(1)) \
                .first() is not None

    # ------------------------------------------------------------------ tasks (the hot path)

    def write_tasks(self, attempt_id: int, created: Sequence[Task], changed: Iterable[Task]) -> None:
        """Persist new and changed tasks of an attempt in one transaction."""
        changed = list(changed)
        if not created and not changed:
            return
        with self.conn.begin():
            cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                if created:
                    self._insert_task.executemany(cursor, [_insert_row(attempt_id, t) for t in created])
                if changed:
                    self._update_task.executemany(cursor, [_update_row(attempt_id, t) for t in changed])
            finally:
                cursor.close()

    def load_tasks(self, attempt_id: int) -> list[Task]:
        with self.conn.begin():
            rows = self.conn.execute(select(s.tasks).where(s.tasks.c.attempt_id == attempt_id)
                                     .order_by(s.tasks.c.id)).all()
        if not rows:
            raise ConfigError(f"attempt {attempt_id} has no tasks")
        return [
            Task(
                id=r.id, parent_id=r.parent_id, name=r.name, full_name=r.full_name, is_group=r.is_group,
                config=_loads(r.config), export=_loads(r.export), upstreams=_loads(r.upstreams),
                state=TaskState(r.state), flags=r.flags, retry_count=r.retry_count, retry_at=r.retry_at,
                started_at=r.started_at, updated_at=r.updated_at, state_params=_loads(r.state_params),
                store_params=_loads(r.store_params), export_params=_loads(r.export_params),
                reset_store=_loads(r.reset_store),
                subtask_config=_loads(r.subtask_config) if r.subtask_config else None,
                error=_loads(r.error) if r.error else None,
            )
            for r in rows
        ]


def _insert_row(attempt_id: int, t: Task) -> dict[str, Any]:
    return {
        "attempt_id": attempt_id, "id": t.id, "parent_id": t.parent_id, "name": t.name, "full_name": t.full_name,
        "is_group": t.is_group, "state": int(t.state), "flags": t.flags, "retry_count": t.retry_count,
        "retry_at": t.retry_at, "started_at": t.started_at, "updated_at": t.updated_at,
        "upstreams": _dumps(t.upstreams), "config": _dumps(t.config), "export": _dumps(t.export),
        "state_params": _dumps(t.state_params), "store_params": _dumps(t.store_params),
        "export_params": _dumps(t.export_params), "reset_store": _dumps(t.reset_store),
        "subtask_config": None if t.subtask_config is None else _dumps(t.subtask_config),
        "error": None if t.error is None else _dumps(t.error),
    }


def _update_row(attempt_id: int, t: Task) -> dict[str, Any]:
    return {
        "b_attempt": attempt_id, "b_id": t.id, "b_state": int(t.state), "b_flags": t.flags,
        "b_retry_count": t.retry_count, "b_retry_at": t.retry_at, "b_started_at": t.started_at,
        "b_updated_at": t.updated_at, "b_state_params": _dumps(t.state_params),
        "b_store_params": _dumps(t.store_params), "b_export_params": _dumps(t.export_params),
        "b_reset_store": _dumps(t.reset_store),
        "b_subtask_config": None if t.subtask_config is None else _dumps(t.subtask_config),
        "b_error": None if t.error is None else _dumps(t.error),
    }
