"""Retention as a user meets it: `digpy prune` on a real server's database (SQLite and PostgreSQL)
and task logs, and a server that prunes by itself. The database shrinks in row counts on both, and
in file size on SQLite after `--vacuum`; the task-log directory in files and bytes."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.acceptance.test_server import wait_done, write_project
from tests.conftest import Server, wait_until

WORKFLOW = "+many:\n  loop>: 100\n  _do:\n    echo>: ${'line ' + i + ' of a task log that takes some room'}\n"


def rows(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                    for t in ("sessions", "attempts", "tasks")}
    finally:
        engine.dispose()


def log_size(directory: Path) -> tuple[int, int]:
    """(files, bytes) under the task-log directory."""
    files = [os.path.join(root, name) for root, _dirs, names in os.walk(directory) for name in names]
    return len(files), sum(os.path.getsize(f) for f in files)


def sqlite_size(file: Path) -> int:
    """The bytes of a SQLite database in WAL mode: its file and its write-ahead log."""
    wal = file.with_name(file.name + "-wal")
    return file.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def run_sessions(server: Server, tmp_path: Path, days: list[str], *, wait: bool = True) -> list[str]:
    project = write_project(tmp_path / "hist", {"hist.dig": WORKFLOW})
    assert server.digpy("push", "hist", "--project", str(project)).returncode == 0
    ids = []
    for day in days:
        started = server.digpy("start", "hist", "hist", "--session", day, "--json")
        assert started.returncode == 0, started.stderr
        ids.append(json.loads(started.stdout)["id"])
    for attempt in ids if wait else ():
        assert wait_done(server, attempt)["status"] == "success"
    return ids


def test_prune_removes_old_sessions_and_their_logs_and_the_database_shrinks(server, tmp_path):
    url = server.database or f"sqlite:///{server.data_dir / 'digpy.db'}"
    ids = run_sessions(server, tmp_path, [f"2026-01-0{d}" for d in range(1, 6)])
    logs = server.data_dir / "logs"
    before, logs_before = rows(url), log_size(logs)
    assert before == {"sessions": 5, "attempts": 5, "tasks": 5 * 103}
    dry = server.digpy("prune", "--data-dir", str(server.data_dir), *(["--database", url] if server.database else []),
                       "--retention-sessions", "2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would remove 3 sessions, 3 attempts, 309 tasks, 0 waits, 3 task-log directories (")
    assert rows(url) == before
    config = tmp_path / "server.yml"  # the server's own config file: its database and retention
    config.write_text(f"data_dir: {server.data_dir}\nretention_sessions: 2\n"
                      + (f"database: {server.database}\n" if server.database else ""))
    sqlite_file = server.data_dir / "digpy.db"
    file_before = sqlite_size(sqlite_file) if not server.database else 0
    pruned = server.digpy("prune", "-c", str(config), "--vacuum")  # while the server runs
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("Removed 3 sessions, 3 attempts, 309 tasks, 0 waits, 3 task-log directories (")
    after, logs_after = rows(url), log_size(logs)
    assert after == {"sessions": 2, "attempts": 2, "tasks": 2 * 103}
    assert sorted(int(p.name) for p in logs.iterdir()) == [int(i) for i in ids[3:]]
    assert logs_after[0] == logs_before[0] * 2 // 5 and logs_after[1] < logs_before[1] / 2
    if not server.database:
        assert sqlite_size(sqlite_file) < file_before * 0.75, "VACUUM gave the space back"
        assert "VACUUM: " in pruned.stdout
    sessions = json.loads(server.digpy("sessions", "--json").stdout)
    assert [s["session_time"][:10] for s in sessions] == ["2026-01-05", "2026-01-04"]
    assert server.digpy("log", ids[0]).returncode != 0 and server.digpy("log", ids[4]).returncode == 0


def test_a_server_prunes_by_itself_every_interval(tmp_path):
    server = Server(tmp_path / "server", None, ("--retention-sessions", "1", "--retention-interval", "1s"))
    server.start()
    try:
        # The first ones may be gone before they could be watched: only the last is waited for.
        ids = run_sessions(server, tmp_path, ["2026-01-01", "2026-01-02", "2026-01-03"], wait=False)
        assert wait_done(server, ids[-1])["status"] == "success"
        wait_until(lambda: len(json.loads(server.digpy("sessions", "--json").stdout)) == 1, timeout=30,
                   what="the server's retention to remove two sessions")
        assert sorted(int(p.name) for p in (server.data_dir / "logs").iterdir()) == [int(ids[-1])]
    finally:
        server.stop()
    removed = re.findall(r"retention: removed (\d+) sessions, (\d+) attempts, (\d+) tasks", server.log.read_text())
    assert [sum(int(r[i]) for r in removed) for i in range(3)] == [2, 2, 206], "in one prune or two"


def test_prune_needs_a_limit_and_a_database(project, tmp_path):
    (tmp_path / "empty").mkdir()
    assert project.digpy("migrate", "-o", f"sqlite:///{tmp_path / 'empty' / 'digpy.db'}", "run").returncode == 0
    result = project.digpy("prune", "--data-dir", str(tmp_path / "empty"))
    assert (result.returncode, result.stderr) == (2, "error: nothing to prune by; give --retention-age DURATION "
                                                     "and/or --retention-sessions N (or retention_age / "
                                                     "retention_sessions in the -c file); no workflow has a "
                                                     "retention: of its own\n")
    result = project.digpy("prune", "--data-dir", str(tmp_path / "none"), "--retention-age", "90d")
    assert (result.returncode, result.stderr) == (
        2, f"error: no database at {tmp_path / 'none' / 'digpy.db'}; give the server's --database URL, "
           "--data-dir or -c file\n")
