"""The store's queries: projects, sessions, attempts and their tasks, on a DB-API cursor.

Every statement here is plain SQL that SQLite and PostgreSQL both accept, run on the driver's
cursor (the hot path skips SQLAlchemy's statement layer). Two stores implement the transaction:
digpy.core.store.local (one sqlite3 connection, for `digpy run`) and digpy.core.store.server (a
SQLAlchemy pool, for the server). The runner writes task changes in batches through `write_tasks`,
one transaction per batch, and acts on a transition only after the batch that holds it is
committed; on the server each write first checks that this node still holds the attempt's lease.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from digpy.core.errors import ConfigError, DigpyError
from digpy.core.store import CANCEL_REQUESTED, DONE, PARTIAL, QUEUED, SUCCESS
from digpy.core.workflow.model import Task, TaskState
from digpy.core.workflow.resume import ActionRecord

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
_ATTEMPT_COLUMNS = ("session_id, project_id, workflow_name, workflow_definition_id, attempt_name, attempt_index, "
                    "timezone, params, state_flags, created_at, after_attempt_id, queue_name, max_active_attempts, "
                    "run_time")
_ATTEMPT_VALUES = ":s, :p, :w, :d, :n, :i, :tz, :params, :f, :now, :after, :q, :m, :run"
_NAMED = re.compile(r"(?<!:):(\w+)")
# The PostgreSQL channel on which a write tells every server that an attempt or its tasks changed (its
# id as the payload; delivered when the transaction commits): the web UI's live pages listen to it.
CHANGES_CHANNEL = "digpy_changes"
_HOLD = "UPDATE attempts SET lease_owner = lease_owner WHERE id = :a AND lease_owner = :o"
# PostgreSQL: the lease check and the notification in one statement (no round trip of its own).
_HOLD_NOTIFY = f"WITH h AS ({_HOLD} RETURNING id) SELECT pg_notify('{CHANGES_CHANNEL}', CAST(id AS text)) FROM h"


@functools.lru_cache(maxsize=256)
def _pyformat(text: str) -> str:
    """`:name` parameters as psycopg's `%(name)s` (statements are few: each is rewritten once)."""
    return _NAMED.sub(r"%(\1)s", text)


def sqlite_pragmas(dbapi_connection: Any, _record: Any = None) -> None:
    """Set on every SQLite connection: WAL, NORMAL sync (a commit survives a killed process), a busy timeout."""
    for pragma in _PRAGMAS:
        dbapi_connection.execute(pragma)


def _same(text: str) -> str:
    return text


class LeaseLost(DigpyError):
    """This node's lease on an attempt was taken by another node: it must stop running it."""


class Store:
    """The queries every store answers: projects, sessions, attempts and their tasks.

    Subclasses say how a transaction is had (`_tx`): LocalStore on one sqlite3 connection (local
    runs), ServerStore on a pool of SQLAlchemy connections (the server, SQLite or PostgreSQL).
    """

    dialect = "sqlite"

    def __init__(self, dialect: str = "sqlite") -> None:
        self.dialect = dialect
        if dialect == "sqlite":
            self._sql: Callable[[str], str] = _same
            self._insert_task, self._update_task = _INSERT_TASK, _UPDATE_TASK
        else:  # psycopg: pyformat parameters
            self._sql = _pyformat
            self._insert_task, self._update_task = _INSERT_TASK.replace("?", "%s"), _UPDATE_TASK.replace("?", "%s")

    def _tx(self) -> AbstractContextManager[Any]:
        """A DB-API cursor in a transaction that commits on success and rolls back on an error."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

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
        return self.open_session(project_id, workflow_name, session_time)[0]

    def open_session(self, project_id: int, workflow_name: str, session_time: int) -> tuple[SessionRecord, bool]:
        """The session of (project, workflow, session time), and whether this call created it."""
        key = {"p": project_id, "w": workflow_name, "t": session_time}
        with self._tx() as cursor:
            if self.dialect == "sqlite":  # in-process: two statements cost nothing
                cursor.execute(self._sql(
                    "INSERT INTO sessions (project_id, workflow_name, session_time, session_uuid, created_at) "
                    "VALUES (:p, :w, :t, :u, :now) ON CONFLICT DO NOTHING"),
                    {**key, "u": random_uuid(), "now": time.time()})
                created = cursor.rowcount == 1
                cursor.execute(self._sql(
                    "SELECT id, session_uuid FROM sessions "
                    "WHERE project_id = :p AND workflow_name = :w AND session_time = :t"), key)
                row = cursor.fetchone()
            else:  # one round trip; DO UPDATE (a no-op) returns the row a concurrent insert made, too
                cursor.execute(self._sql(
                    "INSERT INTO sessions (project_id, workflow_name, session_time, session_uuid, created_at) "
                    "VALUES (:p, :w, :t, :u, :now) ON CONFLICT (project_id, workflow_name, session_time) "
                    "DO UPDATE SET project_id = EXCLUDED.project_id RETURNING id, session_uuid, xmax = 0"),
                    {**key, "u": random_uuid(), "now": time.time()})
                row = cursor.fetchone()
                created = bool(row[2])
        return SessionRecord(int(row[0]), project_id, workflow_name, session_time, row[1]), created

    def create_attempt(
        self, session: SessionRecord, *, timezone: str, params: dict[str, Any], attempt_name: str | None = None,
        workflow_definition_id: int | None = None, after_attempt_id: int | None = None, queue: str | None = None,
        max_active_attempts: int | None = None, queued: bool = False, run_time: float | None = None,
    ) -> AttemptRecord:
        """A new attempt of a session; with `after_attempt_id`, no executor takes it before that one
        ends; `queued`: it waits until admitted within its `queue` and `max_active_attempts`
        (digpy.core.store.queues), which it counts against once active; `run_time`: when its schedule
        slot was due (its SLA counts from there; default: now)."""
        now = time.time()
        flags = QUEUED if queued else 0
        values = {"s": session.id, "p": session.project_id, "w": session.workflow_name, "d": workflow_definition_id,
                  "n": attempt_name, "tz": timezone, "params": _dumps(params), "f": flags, "now": now,
                  "after": after_attempt_id, "q": queue, "m": max_active_attempts, "run": run_time}
        with self._tx() as cursor:
            if self.dialect == "sqlite":  # in-process; RETURNING needs SQLite 3.35: lastrowid works everywhere
                cursor.execute(self._sql("SELECT COUNT(*) FROM attempts WHERE session_id = :s"), {"s": session.id})
                index = int(cursor.fetchone()[0]) + 1
                cursor.execute(self._sql(f"INSERT INTO attempts ({_ATTEMPT_COLUMNS}) VALUES ({_ATTEMPT_VALUES})"),
                               {**values, "i": index})
                attempt_id = int(cursor.lastrowid)
                cursor.execute(self._sql("UPDATE sessions SET last_attempt_id = :a WHERE id = :s"),
                               {"a": attempt_id, "s": session.id})
            else:  # one round trip: the index, the attempt and the session's last attempt
                cursor.execute(self._sql(
                    f"WITH a AS (INSERT INTO attempts ({_ATTEMPT_COLUMNS}) VALUES ("
                    + _ATTEMPT_VALUES.replace(":i", "(SELECT COUNT(*) + 1 FROM attempts WHERE session_id = :s)")
                    + ") RETURNING id, attempt_index), "
                    "u AS (UPDATE sessions SET last_attempt_id = (SELECT id FROM a) WHERE id = :s) "
                    f"SELECT id, attempt_index, pg_notify('{CHANGES_CHANNEL}', CAST(id AS text)) FROM a"), values)
                row = cursor.fetchone()
                attempt_id, index = int(row[0]), int(row[1])
            self._changed(attempt_id)
        return AttemptRecord(attempt_id, session.id, session.project_id, session.workflow_name, attempt_name,
                             index, timezone, params, flags, now, None)

    def finish_attempt(self, attempt_id: int, *, success: bool, canceled: bool, owner: str | None = None,
                       partial: bool = False) -> None:
        """Mark an attempt done (its flags are added to those already set: a kill request stays);
        with `owner`, only while that node holds its lease, which it gives up in the same transaction.
        `partial`: it succeeded although a task failed under `_continue_on` (PARTIAL)."""
        flags = DONE | (SUCCESS if success else 0) | (CANCEL_REQUESTED if canceled else 0) | \
            (PARTIAL if success and partial else 0)
        with self._tx() as cursor:
            if owner is not None:
                self._hold(cursor, attempt_id, owner)
            cursor.execute(self._sql("UPDATE attempts SET state_flags = state_flags | :f, finished_at = :now, "
                                     "lease_owner = NULL, lease_expires_at = NULL WHERE id = :a"),
                           {"f": flags, "now": time.time(), "a": attempt_id})
            self._changed(attempt_id)

    def _hold(self, cursor: Any, attempt_id: int, owner: str) -> None:
        """Compare-and-set on the attempt's lease, in the caller's transaction: the row stays locked
        (PostgreSQL) until it commits, so a node that takes the attempt over waits for this write.
        On PostgreSQL the same statement notifies CHANGES_CHANNEL (the write that follows changes
        the attempt)."""
        cursor.execute(self._sql(_HOLD_NOTIFY if self.dialect == "postgresql" else _HOLD),
                       {"a": attempt_id, "o": owner})
        if cursor.rowcount != 1:
            raise LeaseLost(f"attempt {attempt_id} is no longer held by {owner}")

    def _changed(self, attempt_id: int) -> None:
        """An attempt or its tasks changed in the current transaction (the server's store tells its
        listeners once the transaction has committed; a local run has none)."""

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
        """Operator tasks that ran and ended in success in earlier attempts of a session, by full name
        (what a local run skips)."""
        return self._actions("a.session_id = :s AND a.id < :b", {"s": session_id, "b": before_attempt})

    def previous_params(self, session_id: int, before_attempt: int) -> dict[str, Any] | None:
        """The params of the latest earlier attempt of a session (None: it has none)."""
        row = self._one("SELECT params FROM attempts WHERE session_id = :s AND id < :b ORDER BY id DESC LIMIT 1",
                        {"s": session_id, "b": before_attempt})
        return None if row is None else dict(json.loads(row[0]))

    def attempt_actions(self, attempt_id: int) -> dict[str, ActionRecord]:
        """Operator tasks that ran and ended in success in one attempt (what a resumed retry skips)."""
        return self._actions("a.id = :a", {"a": attempt_id})

    def _actions(self, which: str, params: dict[str, Any]) -> dict[str, ActionRecord]:
        # Only success counts, as in Digdag: a generator whose children failed ended in group_error
        # and runs again with the current definitions and params. A task that never started (after
        # --end, or disabled) has no result to replay.
        query = (
            "SELECT t.full_name, t.store_params, t.export_params, t.reset_store, t.subtask_config "
            "FROM tasks t JOIN attempts a ON a.id = t.attempt_id "
            f"WHERE {which} AND t.is_group = :no AND t.state = {int(TaskState.SUCCESS)} "
            "AND t.started_at IS NOT NULL ORDER BY t.attempt_id, t.id"
        )
        out: dict[str, ActionRecord] = {}
        with self._tx() as cursor:
            cursor.execute(self._sql(query), {**params, "no": False})
            for full_name, store, export, reset, subtasks in cursor.fetchall():
                out[full_name] = ActionRecord(_loads(store), _loads(export), _loads(reset),
                                              _loads(subtasks) if subtasks else None)
        return out

    def unfinished_attempts(self, session_id: int) -> list[int]:
        """The attempts of a session that never ended (their process died): what a resume stops first."""
        with self._tx() as cursor:
            cursor.execute(self._sql(f"SELECT id FROM attempts WHERE session_id = :s AND state_flags & {DONE} = 0 "
                                     "ORDER BY id"), {"s": session_id})
            return [int(r[0]) for r in cursor.fetchall()]

    def has_tasks(self, attempt_id: int) -> bool:
        return self._one("SELECT id FROM tasks WHERE attempt_id = :a LIMIT 1", {"a": attempt_id}) is not None

    # ------------------------------------------------------------------ tasks (the hot path)

    def write_tasks(self, attempt_id: int, created: Sequence[Task], changed: Iterable[Task], *,
                    owner: str | None = None) -> None:
        """Persist new and changed tasks of an attempt in one transaction; with `owner`, only while
        that node holds the attempt's lease (LeaseLost otherwise, and nothing is written)."""
        changed = list(changed)
        if not created and not changed:
            return
        with self._tx() as cursor:
            if owner is not None:
                self._hold(cursor, attempt_id, owner)
            if created:
                cursor.executemany(self._insert_task, [_insert_row(attempt_id, t) for t in created])
            if changed:
                cursor.executemany(self._update_task, [_update_row(attempt_id, t) for t in changed])
            self._changed(attempt_id)

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
