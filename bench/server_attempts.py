"""How many attempts per second a digpy server accepts and completes, and how fast its API answers
under that load.

    .venv/bin/python bench/server_attempts.py                       # SQLite, 1,000 attempts
    .venv/bin/python bench/server_attempts.py --database postgresql+psycopg://postgres@127.0.0.1/bench

Starts a real `digpy server` on a free port, pushes a 3-task workflow, starts N attempts (one
session each) from a few client threads, then waits until all are done. Meanwhile another thread
reads attempts and task lists and records each request's latency. Standard library only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

WORKFLOW = "+a:\n  echo>: a ${session_date}\n+b:\n  sh>: \"true\"\n+c:\n  echo>: c\n"


def call(endpoint: str, method: str, path: str, body: bytes | None = None,
         content_type: str = "application/json") -> object:
    request = urllib.request.Request(endpoint + path, data=body, method=method, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=1000)
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database (default: SQLite)")
    parser.add_argument("--clients", type=int, default=4, help="client threads starting attempts")
    args = parser.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="digpy-server-bench-") as tmp:
        command = [sys.executable, "-m", "digpy", "server", "--port", str(port), "--data-dir", tmp]
        if args.database:
            command += ["--database", args.database]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "log", "w"))
        try:
            for _ in range(200):
                try:
                    call(endpoint, "GET", "/api/version")
                    break
                except OSError:
                    time.sleep(0.05)
            buffer = io.BytesIO()
            with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
                data = WORKFLOW.encode()
                info = tarfile.TarInfo("bench.dig")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            call(endpoint, "PUT", "/api/projects?project=bench&revision=r1", buffer.getvalue(), "application/gzip")
            project = call(endpoint, "GET", "/api/projects?name=bench")["projects"][0]
            workflow = call(endpoint, "GET", f"/api/projects/{project['id']}/workflows/bench")
            base = datetime(2020, 1, 1, tzinfo=UTC)
            latencies: list[float] = []
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
                return str(call(endpoint, "PUT", "/api/attempts", json.dumps(body).encode())["id"])

            watcher = threading.Thread(target=reader, daemon=True)
            started = time.perf_counter()
            watcher.start()
            with ThreadPoolExecutor(args.clients) as pool:
                for attempt_id in pool.map(start, range(args.attempts)):
                    ids.append(attempt_id)
            accepted = time.perf_counter() - started
            while True:
                running = [a for a in call(endpoint, "GET", "/api/attempts?page_size=1000")["attempts"] if not a["done"]]
                if not running:
                    break
                time.sleep(0.2)
            finished = time.perf_counter() - started
            stop.set()
            watcher.join()
            failed = [a for a in call(endpoint, "GET", "/api/attempts?page_size=1000")["attempts"] if not a["success"]]
        finally:
            server.terminate()
            server.wait(60)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
    print(f"machine: {os.cpu_count()} CPUs; database: {args.database or 'SQLite'}", file=sys.stderr)
    print("| attempts | accepted in | accepted / s | all done in | completed / s | failed | API requests | "
          "median | p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {args.attempts} | {accepted:.1f} s | {args.attempts / accepted:.0f} | {finished:.1f} s | "
          f"{args.attempts / finished:.0f} | {len(failed)} | {len(latencies)} | "
          f"{statistics.median(latencies) * 1000:.1f} ms | {p99 * 1000:.1f} ms |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
