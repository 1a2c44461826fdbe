"""Pruning old history: finished sessions, their attempts, tasks and waits, and their task logs.

What the server's retention loop and `digpy prune` do. Sessions go in batches, each one
transaction: the rows are deleted, then the batch's log directories, then the transaction commits,
so that an interruption leaves rows (removed by the next prune) but never a log directory that no
attempt names. digpy.core.store.retention says which sessions may go.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NamedTuple

from digpy.core.store.retention import RetentionPolicy, prunable_sessions, remove_sessions, workflow_policies
from digpy.core.store.server import ServerStore
from digpy.server.logs import LogStore

BATCH = 200  # sessions per transaction: a SQLite writer waits for one batch at most


class Pruned(NamedTuple):
    """What a prune removed (or, dry, would remove)."""

    sessions: int = 0
    attempts: int = 0
    tasks: int = 0
    waits: int = 0
    log_dirs: int = 0
    log_bytes: int = 0

    def summary(self) -> str:
        return (f"{self.sessions} sessions, {self.attempts} attempts, {self.tasks} tasks, {self.waits} waits, "
                f"{self.log_dirs} task-log directories ({_size(self.log_bytes)})")


def prune(store: ServerStore, logs: LogStore, policy: RetentionPolicy, *, now: float, dry_run: bool = False,
          batch: int = BATCH) -> Pruned:
    """Remove what `policy` (the server's) and the workflows' own `retention:` say is old at `now`
    (nothing with `dry_run`: only count it): one pass over the workflows without their own, then one
    for each workflow that has it."""
    with store.begin() as conn:
        own = workflow_policies(conn, policy)
    total = _prune(store, logs, policy, now, dry_run, batch, exclude=[(w.project_id, w.workflow_name) for w in own])
    for workflow in own:
        more = _prune(store, logs, workflow.policy, now, dry_run, batch,
                      workflow=(workflow.project_id, workflow.workflow_name))
        total = Pruned(*(a + b for a, b in zip(total, more, strict=True)))
    return total


def has_policies(store: ServerStore, policy: RetentionPolicy) -> bool:
    """Whether there is anything to prune by: the server's policy, or a workflow's own retention."""
    if policy.limited:
        return True
    with store.begin() as conn:
        return bool(workflow_policies(conn, policy))


def _prune(store: ServerStore, logs: LogStore, policy: RetentionPolicy, now: float, dry_run: bool, batch: int, *,
           workflow: tuple[int, str] | None = None, exclude: list[tuple[int, str]] | None = None) -> Pruned:
    total = Pruned()
    after = 0
    while True:
        with store.begin() as conn:
            ids = prunable_sessions(conn, policy, now=now, after_id=after, limit=batch, workflow=workflow,
                                    exclude=exclude or ())
            if not ids:
                return total
            removed = remove_sessions(conn, ids, dry_run=dry_run)
            dirs = [logs.attempt_dir(a) for a in removed.attempt_ids]
            sizes = [_tree_size(d) for d in dirs]
            if not dry_run:
                for directory in dirs:
                    shutil.rmtree(directory, ignore_errors=True)
        total = Pruned(total.sessions + removed.sessions, total.attempts + removed.attempts,
                       total.tasks + removed.tasks, total.waits + removed.waits,
                       total.log_dirs + sum(1 for size in sizes if size is not None),
                       total.log_bytes + sum(size or 0 for size in sizes))
        after = ids[-1]
        if len(ids) < batch:
            return total


def vacuum(store: ServerStore) -> None:
    """Give the space of removed rows back: SQLite's file shrinks (VACUUM rewrites it; other writers
    wait meanwhile); PostgreSQL's VACUUM ANALYZE makes it reusable and refreshes the statistics."""
    tables = ("tasks", "attempt_waits", "attempts", "sessions")
    with store.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # the rewritten pages out of the log
        else:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(tables)}")


def _tree_size(directory: Path) -> int | None:
    """The bytes of the files under `directory`, or None if there is no such directory."""
    if not directory.is_dir():
        return None
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


__all__ = ["BATCH", "Pruned", "has_policies", "prune", "vacuum"]
