"""The scheduler under load: how late 1,000 per-minute schedules start their sessions, what an idle
scheduler costs, and how long a backfill of 10,000 slots takes to be accepted.

    .venv/bin/python bench/scheduler.py                       # SQLite
    .venv/bin/python bench/scheduler.py --database postgresql+psycopg://postgres@127.0.0.1/EMPTY_DB

Starts a real `digpy server` (its executor off unless --executor: the figure is when sessions
start) on a free port, pushes one project of N workflows with `minutes_interval>: 1`, waits for
--minutes full minutes and reports, for each minute, how many sessions started and how late
(the attempt's creation time minus its slot's run time). Then: the server process's CPU while
idle (N `daily>` schedules, none due) over --idle seconds, and the time to accept a backfill of
10,000 slots. Reads the times from the database with SQLAlchemy.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api import archive, call, free_port, wait_answering


class Server:
    def __init__(self, tmp: Path, database: str | None, executor: bool) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "digpy", "server", "--port", str(self.port), "--data-dir", str(tmp)]
        if database:
            command += ["--database", database]
        if not executor:
            command += ["--disable-executor"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(tmp / "server.log", "w"))
        wait_answering(self.endpoint)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(120)


def lateness(database: str, minutes: int) -> list[str]:
    """Per slot minute: how many sessions started and how late (the attempt's creation, stored to the
    microsecond, minus its slot's run time; the API shows whole seconds)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT s.session_time, a.created_at FROM attempts a "
                                 "JOIN sessions s ON s.id = a.session_id")).all()
    engine.dispose()
    by_minute: dict[str, list[float]] = {}
    for session_time, created_at in rows:
        minute = datetime.fromtimestamp(session_time, UTC).strftime("%H:%M")
        by_minute.setdefault(minute, []).append(created_at - session_time)
    table: list[str] = []
    for minute, late in sorted(by_minute.items())[-minutes:]:
        late.sort()
        table.append(f"| {minute} | {len(late)} | {statistics.median(late):.2f} s | "
                     f"{late[int(len(late) * 0.99) - 1]:.2f} s | {late[-1]:.2f} s |")
    return table


def empty(database: str | None) -> None:
    """Drop every table of a PostgreSQL database (the run owns it; SQLite starts in a new directory)."""
    if database:
        from sqlalchemy import create_engine, text

        engine = create_engine(database, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database (default: SQLite)")
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=2, help="full minutes to watch")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    parser.add_argument("--executor", action="store_true", help="run the attempts too")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs; database: {args.database or 'SQLite'}", file=sys.stderr)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on kill too
    with tempfile.TemporaryDirectory(prefix="digpy-scheduler-bench-") as tmp:
        empty(args.database)
        server = Server(Path(tmp), args.database, args.executor)
        try:
            files = {f"wf{i:04d}.dig": "schedule:\n  minutes_interval>: 1\n+a:\n  echo>: ${session_time}\n"
                     for i in range(args.workflows)}
            started = time.perf_counter()
            call(server.endpoint, "PUT", "/api/projects?project=load&revision=r1", archive(files), "application/gzip")
            print(f"pushed {args.workflows} scheduled workflows in {time.perf_counter() - started:.1f} s",
                  file=sys.stderr)
            now = datetime.now(UTC)
            until = now.replace(second=0, microsecond=0) + timedelta(minutes=args.minutes + 1, seconds=15)
            time.sleep((until - now).total_seconds())
            print(f"\n{args.workflows} workflows, `minutes_interval>: 1`: each minute's sessions\n")
            print("| minute | sessions | late, median | p99 | max |")
            print("|---|---|---|---|---|")
            print("\n".join(lateness(args.database or f"sqlite:///{tmp}/digpy.db", args.minutes)))
        finally:
            server.stop()

    with tempfile.TemporaryDirectory(prefix="digpy-scheduler-bench-") as tmp:
        empty(args.database)
        server = Server(Path(tmp), args.database, executor=False)
        try:
            files = {f"wf{i:04d}.dig": "schedule:\n  daily>: 23:59:59\n+a:\n  echo>: x\n"
                     for i in range(args.workflows)}
            files["minutely.dig"] = "schedule:\n  minutes_interval>: 1\n+a:\n  echo>: x\n"
            call(server.endpoint, "PUT", "/api/projects?project=idle&revision=r1", archive(files), "application/gzip")
            time.sleep(2)
            before = server.cpu_seconds()
            time.sleep(args.idle)
            used = server.cpu_seconds() - before
            print(f"\nidle: {args.workflows} schedules none due (and one every minute): server process CPU "
                  f"{used:.2f} s in {args.idle:.0f} s = {100 * used / args.idle:.2f} % of a core")
            project = call(server.endpoint, "GET", "/api/projects?name=idle")["projects"][0]  # type: ignore[index]
            schedule = call(server.endpoint, "GET", f"/api/projects/{project['id']}/schedules?workflow=minutely"
                            )["schedules"][0]  # type: ignore[index]
            first = (datetime.now(UTC) - timedelta(minutes=10_001)).strftime("%Y-%m-%dT%H:%M:00+00:00")
            body = json.dumps({"fromTime": first, "attemptName": "bf", "count": 10_000}).encode()
            started = time.perf_counter()
            done = call(server.endpoint, "POST", f"/api/schedules/{schedule['id']}/backfill", body)
            took = time.perf_counter() - started
            print(f"backfill of {len(done['attempts'])} slots accepted in {took:.1f} s "  # type: ignore[index]
                  f"({len(done['attempts']) / took:.0f} sessions/s)")  # type: ignore[index]
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
