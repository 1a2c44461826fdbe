"""How many attempts per second a digpy server accepts and completes, and how fast its API answers
under that load.

    .venv/bin/python bench/server_attempts.py                       # SQLite, 1,000 attempts
    .venv/bin/python bench/server_attempts.py --database postgresql+psycopg://postgres@127.0.0.1/bench

Starts a real `digpy server` on a free port, pushes a 3-task workflow, starts N attempts (one
session each) from a few client threads, then waits until all are done. Meanwhile another thread
reads attempts and task lists and records each request's latency; the latency of each start is
recorded too. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api import archive, call, free_port, wait_answering

WORKFLOW = "+a:\n  echo>: a ${session_date}\n+b:\n  sh>: \"true\"\n+c:\n  echo>: c\n"




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database (default: SQLite)")
    parser.add_argument("--clients", type=int, default=4, help="client threads starting attempts")
    parser.add_argument("--executor-node", action="store_true",
                        help="run attempts on a second server process (the same database), not the API's")
    parser.add_argument("--executor-nice", type=int, default=0, help="the executor node's niceness (0-19)")
    parser.add_argument("--executor-processes", type=int, default=0,
                        help="the server's --executor-processes (attempts run in its child processes)")
    parser.add_argument("--accept-only", action="store_true",
                        help="a server with --disable-executor: how fast the API accepts starts, nothing runs")
    args = parser.parse_args()
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="digpy-server-bench-") as tmp:
        command = [sys.executable, "-m", "digpy", "server", "--port", str(port), "--data-dir", tmp]
        if args.database:
            command += ["--database", args.database]
        if args.accept_only or args.executor_node:
            command += ["--disable-executor"]
        if args.executor_processes:
            command += ["--executor-processes", str(args.executor_processes)]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "log", "w"))
        node = None
        wait_answering(endpoint)  # the API server created the schema: then the executor node may start
        if args.executor_node:
            node = subprocess.Popen(["nice", "-n", str(args.executor_nice), sys.executable, "-m", "digpy", "server", "--port", str(free_port()), "--data-dir",
                                     tmp, "--database", args.database or f"sqlite:///{tmp}/digpy.db"],
                                    stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "node.log", "w"))
        try:
            call(endpoint, "PUT", "/api/projects?project=bench&revision=r1", archive({"bench.dig": WORKFLOW}),
                 "application/gzip")
            project = call(endpoint, "GET", "/api/projects?name=bench")["projects"][0]
            workflow = call(endpoint, "GET", f"/api/projects/{project['id']}/workflows/bench")
            base = datetime(2020, 1, 1, tzinfo=UTC)
            latencies: list[float] = []
            start_latencies: list[float] = []
            stop = threading.Event()
            ids: list[str] = []

            def reader() -> None:
                while not stop.is_set():
                    for path in ("/api/attempts?page_size=20", f"/api/attempts/{ids[-1]}/tasks" if ids else "/api/version"):
                        t = time.perf_counter()
                        call(endpoint, "GET", path)
                        latencies.append(time.perf_counter() - t)

            def start(i: int) -> str:
                body = {"workflowId": workflow["id"], "sessionTime": (base + timedelta(hours=i)).isoformat()}
                t = time.perf_counter()
                attempt_id = str(call(endpoint, "PUT", "/api/attempts", json.dumps(body).encode())["id"])
                start_latencies.append(time.perf_counter() - t)
                return attempt_id

            watcher = threading.Thread(target=reader, daemon=True)
            started = time.perf_counter()
            watcher.start()
            with ThreadPoolExecutor(args.clients) as pool:
                for attempt_id in pool.map(start, range(args.attempts)):
                    ids.append(attempt_id)
            accepted = time.perf_counter() - started
            while not args.accept_only:
                running = [a for a in call(endpoint, "GET", "/api/attempts?page_size=1000")["attempts"] if not a["done"]]
                if not running:
                    break
                time.sleep(0.2)
            finished = time.perf_counter() - started
            stop.set()
            watcher.join()
            failed = [] if args.accept_only else [
                a for a in call(endpoint, "GET", "/api/attempts?page_size=1000")["attempts"] if not a["success"]]
        finally:
            for process in (server, node):
                if process is not None:
                    process.terminate()
                    process.wait(60)
    def p99(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[max(0, int(len(ordered) * 0.99) - 1)] if ordered else 0.0

    print(f"machine: {os.cpu_count()} CPUs; database: {args.database or 'SQLite'}; {args.clients} clients",
          file=sys.stderr)
    print("| attempts | clients | accepted in | accepted / s | start p50 | start p99 | all done in | completed / s | "
          "failed | reads | read p50 | read p99 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.attempts} | {args.clients} | {accepted:.1f} s | {args.attempts / accepted:.0f} | "
          f"{statistics.median(start_latencies) * 1000:.1f} ms | {p99(start_latencies) * 1000:.1f} ms | "
          f"{finished:.1f} s | {args.attempts / finished:.0f} | {len(failed)} | {len(latencies)} | "
          f"{statistics.median(latencies) * 1000:.1f} ms | {p99(latencies) * 1000:.1f} ms |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
