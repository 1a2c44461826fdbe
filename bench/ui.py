"""The web UI's figures (docs/performance.md "Web UI"): how long an attempt of 10,000 tasks takes to
open, how long a task's state change takes to reach an open attempt page, and how fast the attempts
list pages through 100,000 attempts.

    .venv/bin/python bench/ui.py open        # a 10,000-task attempt, opened 3 times
    .venv/bin/python bench/ui.py latency     # 20 changes, seen by a page, on each kind of server
    .venv/bin/python bench/ui.py latency --database postgresql+psycopg://postgres@127.0.0.1/bench
    .venv/bin/python bench/ui.py list        # 100,000 attempts: first, middle and last pages, by status

Starts a real `digpy server` on a free port and drives Debian's Chromium with Playwright
(/usr/bin/chromium, as the tests do).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api import archive, call, free_port, wait_answering

CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]




@contextmanager
def server(tmp: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "digpy", "server", "--port", str(port), "--data-dir", str(tmp),
                                *extra], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_answering(endpoint)
        yield endpoint
    finally:
        process.terminate()
        process.wait(60)
        log.close()


def push(endpoint: str, files: dict[str, str]) -> str:
    project = call(endpoint, "PUT", f"/api/projects?project=bench&revision=r{time.time_ns()}", archive(files),
                   "application/gzip")
    workflows = call(endpoint, "GET", f"/api/projects/{project['id']}/workflows")["workflows"]  # type: ignore[index]
    return str(workflows[0]["id"])


def start(endpoint: str, workflow: str, when: str = "2026-01-01T00:00:00Z") -> str:
    body = json.dumps({"workflowId": workflow, "sessionTime": when}).encode()
    return str(call(endpoint, "PUT", "/api/attempts", body)["id"])  # type: ignore[index]


def wait_done(endpoint: str, attempt: str, timeout: float = 1800) -> None:
    deadline = time.monotonic() + timeout
    while not call(endpoint, "GET", f"/api/attempts/{attempt}")["done"]:  # type: ignore[index]
        if time.monotonic() > deadline:
            raise SystemExit(f"attempt {attempt} did not finish in {timeout} s")
        time.sleep(0.5)


@contextmanager
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def bench_open(args: argparse.Namespace) -> None:
    items = json.dumps(list(range(args.tasks)))
    with tempfile.TemporaryDirectory(prefix="digpy-ui-bench-") as tmp, server(Path(tmp)) as endpoint:
        workflow = push(endpoint, {"big.dig": f"+many:\n  for_each>:\n    n: {items}\n  _parallel: true\n"
                                              "  _do:\n    echo>: ${n}\n"})
        began = time.monotonic()
        attempt = start(endpoint, workflow)
        wait_done(endpoint, attempt)
        total = len(call(endpoint, "GET", f"/api/attempts/{attempt}/tasks")["tasks"])  # type: ignore[index]
        print(f"attempt {attempt}: {total} tasks, ran in {time.monotonic() - began:.0f} s")
        with browser() as chromium:
            for run in range(args.repeat):
                page = chromium.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
                t0 = time.monotonic()
                page.goto(f"{endpoint}/attempts/{attempt}")
                page.wait_for_selector(f'main[data-tasks="{total}"]', timeout=120_000)
                page.wait_for_selector("svg.graph g.folded")
                graph = time.monotonic() - t0
                page.keyboard.press("2")
                page.wait_for_selector(".panel[aria-labelledby=tab-tasks] .vlist .vrow")
                table = time.monotonic() - t0
                page.keyboard.press("3")
                page.wait_for_selector(".panel[aria-labelledby=tab-timeline] .vlist .vrow .bar")
                timeline = time.monotonic() - t0
                print(f"open {run + 1}: graph drawn {graph:.2f} s, task table {table:.2f} s, timeline {timeline:.2f} s")
                page.close()


def bench_latency(args: argparse.Namespace) -> None:
    kinds: list[tuple[str, tuple[str, ...]]] = [("in-process executor", ())]
    kinds.append(("--executor-processes 1", ("--executor-processes", "1")))
    for label, extra in kinds:
        with tempfile.TemporaryDirectory(prefix="digpy-ui-bench-") as tmp:
            markers = Path(tmp) / "markers"
            markers.mkdir()
            steps = "".join(f"+t{i}:\n  sh>: while [ ! -f {markers}/{i} ]; do sleep 0.01; done\n" for i in range(args.changes))
            database = ("--database", args.database) if args.database else ()
            with server(Path(tmp), *extra, *database) as endpoint, browser() as chromium:
                workflow = push(endpoint, {"wf.dig": steps})
                attempt = start(endpoint, workflow, f"2026-01-01T{random.randrange(24):02d}:{random.randrange(60):02d}:00Z")
                page = chromium.new_page(bypass_csp=True)  # type: ignore[attr-defined]  # its wait_for_function evaluates
                page.goto(f"{endpoint}/attempts/{attempt}")
                page.wait_for_selector("main[data-ready]")
                page.evaluate("""() => { window.seen = {}; new MutationObserver((changes) => { for (const c of changes) {
                    const name = c.target.getAttribute && c.target.getAttribute('data-name');
                    if (name && c.target.classList.contains('st-success') && !(name in window.seen)) window.seen[name] = Date.now(); } })
                    .observe(document.getElementById('main'), {subtree: true, attributes: true, attributeFilter: ['class'], childList: true}); }""")
                delays = []
                for i in range(args.changes):
                    name = f"+wf+t{i}"
                    page.wait_for_selector(f'svg.graph g[data-name="{name}"].st-running', timeout=60_000)
                    page.wait_for_timeout(100)
                    touched = time.time()
                    (markers / str(i)).touch()
                    page.wait_for_function(f"window.seen['{name}'] !== undefined", timeout=60_000)
                    delays.append(page.evaluate(f"window.seen['{name}']") / 1000 - touched)
                delays.sort()
                where = "PostgreSQL" if args.database else "SQLite"
                print(f"{where}, {label}: touch → the page shows success, {len(delays)} changes: median "
                      f"{statistics.median(delays) * 1000:.0f} ms, 90th percentile {delays[int(len(delays) * 0.9) - 1] * 1000:.0f} ms, "
                      f"max {delays[-1] * 1000:.0f} ms")


def bench_list(args: argparse.Namespace) -> None:
    from sqlalchemy import create_engine, insert

    from digpy.core.store import CANCEL_REQUESTED, DONE, SUCCESS
    from digpy.core.store import schema as s

    with tempfile.TemporaryDirectory(prefix="digpy-ui-bench-") as tmp:
        with server(Path(tmp)) as endpoint:
            push(endpoint, {"wf.dig": "+a:\n  echo>: a\n"})
        engine = create_engine(f"sqlite:///{tmp}/digpy.db")
        rng = random.Random(1)
        flags = [DONE | SUCCESS] * 96 + [DONE] * 2 + [DONE | CANCEL_REQUESTED] + [0]
        now = time.time()
        with engine.begin() as conn:
            for chunk in range(0, args.attempts, 10_000):
                count = min(10_000, args.attempts - chunk)
                conn.execute(insert(s.sessions), [{"id": chunk + i + 1, "project_id": 1, "workflow_name": "wf",
                                                   "session_time": 1_700_000_000 + (chunk + i) * 60,
                                                   "session_uuid": f"00000000-0000-4000-8000-{chunk + i:012d}",
                                                   "last_attempt_id": chunk + i + 1, "created_at": now} for i in range(count)])
                conn.execute(insert(s.attempts), [{"id": chunk + i + 1, "session_id": chunk + i + 1, "project_id": 1,
                                                   "workflow_definition_id": 1, "workflow_name": "wf", "attempt_index": 1,
                                                   "timezone": "UTC", "params": "{}", "state_flags": rng.choice(flags),
                                                   "created_at": now, "finished_at": now} for i in range(count)])
        engine.dispose()
        with server(Path(tmp), "--disable-executor") as endpoint:
            for query in ("", "status=error", "status=killed", "status=success", "status=running", "include_retried=true"):
                for where, last in (("first page", None), ("middle", args.attempts // 2), ("last page", 60)):
                    path = f"/api/attempts?page_size=50&{query}" + (f"&last_id={last}" if last else "")
                    times = []
                    for _ in range(5):
                        t0 = time.perf_counter()
                        found = call(endpoint, "GET", path)["attempts"]  # type: ignore[index]
                        times.append(time.perf_counter() - t0)
                    print(f"{query or 'every session':<22} {where:<10}: {statistics.median(times) * 1000:6.1f} ms "
                          f"({len(found)} attempts)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["open", "latency", "list"])
    parser.add_argument("--tasks", type=int, default=10_000, help="open: tasks of the attempt")
    parser.add_argument("--repeat", type=int, default=3, help="open: how many times it is opened")
    parser.add_argument("--changes", type=int, default=20, help="latency: state changes measured")
    parser.add_argument("--database", help="latency: an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--attempts", type=int, default=100_000, help="list: attempts in the database")
    args = parser.parse_args()
    {"open": bench_open, "latency": bench_latency, "list": bench_list}[args.what](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
