"""Crash trials: SIGKILL `digpy run` and server nodes at random points, resume, and count what went wrong.

    .venv/bin/python bench/crash_trials.py [--local N] [--server N] [--seed S]

A local trial runs a workflow of 8 `sh>` tasks of 0-3 s each (sequential ones and a parallel group),
kills `digpy run` with SIGKILL after a random 0.2-6 s, and runs the session again (killing that run too,
at random, up to three kills per trial) until it succeeds. A server trial does the same with a
`digpy server` node (half of them with `--executor-processes 1`): the node is killed, a new node
starts on the same data directory and takes the attempt over once its lease has expired (the first
kill after a random 0.2-4 s).

Each command appends `start TASK` and `end TASK` to a file. After each kill the trial reads which
tasks the database holds as succeeded; it reports
- succeeded-task re-runs: a task started again after the database said it had succeeded (digpy
  promises never);
- lost tasks: a task that never ended although the run finished successfully (never);
- stray processes: processes of the killed digpy process (found by a mark in their environment)
  still alive 2 s after the kill (none);
- re-runs of tasks that were running at a kill (allowed: at-least-once).
docs/reliability.md holds the figures. Not a test: it takes minutes and uses fixed waits.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api import free_port, wait_answering

SUCCESS = 7  # digpy.core.workflow.model.TaskState.SUCCESS
MARK = "DIGPY_CRASH_TRIAL"


def workflow(log: Path, rng: random.Random) -> str:
    def task(name: str, indent: str = "") -> str:
        return (f"{indent}+{name}:\n{indent}  sh>: echo start {name} >> {log}; "
                f"sleep {rng.uniform(0.0, 3.0):.1f}; echo end {name} >> {log}\n")

    text = "".join(task(f"s{i}") for i in range(3))
    text += "+par:\n  _parallel: true\n" + "".join(task(f"p{i}", "  ") for i in range(3))
    text += "".join(task(f"t{i}") for i in range(2))
    return text


TASKS = [f"s{i}" for i in range(3)] + [f"p{i}" for i in range(3)] + [f"t{i}" for i in range(2)]


@dataclass
class Figures:
    trials: int = 0
    kills: int = 0
    succeeded_reruns: int = 0
    lost: int = 0
    strays: int = 0
    running_reruns: int = 0
    notes: list[str] = field(default_factory=list)


def lines(log: Path) -> list[tuple[str, str]]:
    if not log.exists():
        return []
    return [tuple(line.split()[:2]) for line in log.read_text().splitlines() if len(line.split()) >= 2]  # type: ignore[misc]


def marked(value: str) -> list[int]:
    """Processes (not digpy's guards) whose environment holds MARK=value."""
    needle = f"\0{MARK}={value}\0".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            env = b"\0" + Path(f"/proc/{name}/environ").read_bytes()
            cmd = Path(f"/proc/{name}/cmdline").read_bytes()
        except OSError:
            continue
        if needle in env and b"guard.py" not in cmd:
            found.append(int(name))
    return found


def succeeded(db: Path) -> set[str]:
    if not db.exists():  # killed before it made its database
        return set()
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
        rows = conn.execute("SELECT full_name FROM tasks WHERE state = ? AND is_group = 0", (SUCCESS,)).fetchall()
    return {name.rsplit("+", 1)[1] for (name,) in rows}


def after_kill(figures: Figures, mark: str, log: Path, db: Path, done_before: set[str]) -> set[str]:
    """Count strays 2 s after a kill; return the tasks the database holds as succeeded."""
    time.sleep(2.0)
    strays = marked(mark)
    figures.strays += len(strays)
    for pid in strays:
        figures.notes.append(f"stray {pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()!r}")
        os.kill(pid, signal.SIGKILL)
    return done_before | succeeded(db)


def judge(figures: Figures, log: Path, done_at_kills: list[tuple[int, set[str]]]) -> None:
    """Read the command log against what the database said after each kill."""
    events = lines(log)
    for position, done in done_at_kills:
        for what, name in events[position:]:
            if what == "start" and name in done:
                figures.succeeded_reruns += 1
                figures.notes.append(f"succeeded task {name} started again")
    ended = {name for what, name in events if what == "end"}
    figures.lost += len(set(TASKS) - ended)
    starts = Counter(name for what, name in events if what == "start")
    figures.running_reruns += sum(n - 1 for n in starts.values())


def digpy(*args: str) -> list[str]:
    return [sys.executable, "-m", "digpy", *args]


def local_trial(figures: Figures, rng: random.Random, root: Path) -> None:
    project = Path(tempfile.mkdtemp(dir=root))
    log = project / "commands.txt"
    (project / "wf.dig").write_text(workflow(log, rng))
    mark = project.name
    env = {**os.environ, MARK: mark}
    db = project / ".digpy" / "state.db"
    done: set[str] = set()
    done_at_kills: list[tuple[int, set[str]]] = []
    for round_ in range(4):
        run = subprocess.Popen(digpy("run", "wf", "--session", "2026-01-01", "--output", "plain"), cwd=project,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if round_ < 3 and rng.random() < (1.0 if round_ == 0 else 0.5):
            try:
                run.wait(rng.uniform(0.2, 6.0))
            except subprocess.TimeoutExpired:
                run.send_signal(signal.SIGKILL)
                run.wait()
                figures.kills += 1
                done = after_kill(figures, mark, log, db, done)
                done_at_kills.append((len(lines(log)), set(done)))
                continue
        if run.wait(120) == 0:
            break
    else:
        figures.notes.append(f"local trial {project} never succeeded")
        figures.lost += 1
    judge(figures, log, done_at_kills)
    figures.trials += 1


class Node:
    def __init__(self, data: Path, env: dict[str, str], extra: list[str]) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(digpy("server", "--port", str(self.port), "--data-dir", str(data), *extra),
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_answering(self.endpoint)

    def client(self, *args: str, cwd: Path) -> str:
        env = {**os.environ, "DIGPY_ENDPOINT": self.endpoint}
        return subprocess.run(digpy(*args), cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout

    def attempt(self, attempt_id: str) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.endpoint}/api/attempts/{attempt_id}", timeout=10) as r:
            return dict(json.loads(r.read()))


def server_trial(figures: Figures, rng: random.Random, root: Path, executor_processes: bool) -> None:
    base = Path(tempfile.mkdtemp(dir=root))
    project, data, log = base / "p", base / "data", base / "commands.txt"
    project.mkdir()
    (project / "wf.dig").write_text(workflow(log, rng))
    mark = base.name
    env = {**os.environ, MARK: mark, "DIGPY_EXECUTOR_IDLE_SECONDS": "0.2"}
    extra = ["--executor-processes", "1"] if executor_processes else []
    node = Node(data, env, extra)
    node.client("push", "p", "--project", str(project), cwd=base)
    attempt_id = json.loads(node.client("start", "p", "wf", "--json", cwd=base))["id"]
    done: set[str] = set()
    done_at_kills: list[tuple[int, set[str]]] = []
    for round_ in range(3):
        if round_ < 2 and rng.random() < (1.0 if round_ == 0 else 0.3):
            time.sleep(rng.uniform(0.2, 4.0))
            if not node.attempt(attempt_id)["done"]:
                node.process.send_signal(signal.SIGKILL)
                node.process.wait()
                figures.kills += 1
                done = after_kill(figures, mark, log, data / "digpy.db", done)
                done_at_kills.append((len(lines(log)), set(done)))
                node = Node(data, env, extra)  # takes the attempt over once the lease expired
                continue
        deadline = time.monotonic() + 120
        while not node.attempt(attempt_id)["done"] and time.monotonic() < deadline:
            time.sleep(0.2)
        break
    state = node.attempt(attempt_id)
    node.process.terminate()
    node.process.wait(60)
    if not state["success"]:
        figures.notes.append(f"server trial {base}: attempt {attempt_id} did not succeed: {state['status']}")
    judge(figures, log, done_at_kills)
    figures.trials += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--local", type=int, default=30)
    parser.add_argument("--server", type=int, default=10)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="digpy-crash-") as tmp:
        root = Path(tmp)
        results = {}
        for kind, count in (("local", args.local), ("server", args.server)):
            figures = Figures()
            started = time.monotonic()
            for i in range(count):
                if kind == "local":
                    local_trial(figures, rng, root)
                else:
                    server_trial(figures, rng, root, executor_processes=i % 2 == 1)
            results[kind] = figures
            print(f"{kind}: {figures.trials} trials, {figures.kills} SIGKILLs, "
                  f"{figures.succeeded_reruns} succeeded-task re-runs, {figures.lost} lost tasks, "
                  f"{figures.strays} stray processes 2 s after a kill, "
                  f"{figures.running_reruns} re-runs of tasks that were running ({time.monotonic() - started:.0f} s)",
                  flush=True)
            for note in figures.notes:
                print("  " + note)


if __name__ == "__main__":
    main()
