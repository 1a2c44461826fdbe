"""Whole-process wall time and peak memory of `digpy run` on the standard workloads, next to the
physical floor (plain Python doing the same work with the same concurrency) measured in the same run.

    .venv/bin/python bench/workloads.py                 # every workload, median of 3 runs
    .venv/bin/python bench/workloads.py --only W2,W3-100k --runs 5

W0 one `sh>: true`; W1 100 sequential `sh>: true`; W2 1000 `sh>: true` two at a time
(`_parallel: {limit: 2}`), then a join; W4 10 sequential groups of 100 `sh>: true` two at a time
(ANCHORS.md's definition); W3 N `echo>` tasks fanned out by `loop>` (`_parallel: true`), then a
join, output to a file; W3-seq a sequential loop (a dependent chain). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Workload:
    name: str
    dig: str
    floor: str
    lines: int  # task output lines expected on stdout
    target: str  # "1.5x" or "0.2ms" (overhead per task)
    tasks: int
    params: tuple[str, ...] = ()
    log_level: str = "warning"


def _sh_floor(batches: list[int]) -> str:
    return (
        "import subprocess\n"
        f"for size in {batches!r}:\n"
        "    procs = [subprocess.Popen(['/bin/sh', '-c', 'true']) for _ in range(size)]\n"
        "    for p in procs: p.wait()\n"
    )


def workloads() -> list[Workload]:
    one = "+t:\n  sh>: \"true\"\n"
    w1 = "".join(f"+t{i}:\n  sh>: \"true\"\n" for i in range(100))
    w2 = "+p:\n  _parallel: {limit: 2}\n" + "".join(f"  +t{i}:\n    sh>: \"true\"\n" for i in range(1000)) \
        + "+join:\n  echo>: done\n"
    w4 = "".join(
        f"+g{g}:\n  _parallel: {{limit: 2}}\n" + "".join(f"  +t{i}:\n    sh>: \"true\"\n" for i in range(100))
        for g in range(10)
    )
    loop = "+fan:\n  loop>: ${n}\n  _parallel: true\n  _do:\n    echo>: ${i}\n+join:\n  echo>: done\n"
    chain = "+chain:\n  loop>: ${n}\n  _do:\n    echo>: ${i}\n"
    echo_floor = "import sys\nn = int(sys.argv[1])\nw = sys.stdout.write\nfor i in range(n): w(f'{i}\\n')\nw('done\\n')\n"
    return [
        Workload("W0", one, _sh_floor([1]), 0, "1.5x", 1),
        Workload("W1", w1, _sh_floor([1] * 100), 0, "1.5x", 100),
        Workload("W2", w2, _sh_floor([2] * 500), 1, "1.5x", 1001),
        Workload("W4", w4, _sh_floor([2] * 500), 0, "1.5x", 1000),
        Workload("W3-10k", loop, echo_floor, 10_001, "0.2ms", 10_001, ("n=10000",)),
        Workload("W3-100k", loop, echo_floor, 100_001, "0.2ms", 100_001, ("n=100000",)),
        Workload("W3-10k-log", loop, echo_floor, 10_001, "0.2ms", 10_001, ("n=10000",), "info"),
        Workload("W3-seq-10k", chain, echo_floor.replace("w('done\\n')\n", ""), 10_000, "0.2ms", 10_000,
                 ("n=10000",)),
    ]


def measure(argv: list[str], cwd: Path, stdout: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit code) of one whole process."""
    with open(stdout, "w") as out, open(cwd / "stderr.txt", "w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def run_workload(w: Workload, digpy: list[str], runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix=f"digpy-bench-{w.name}-") as tmp:
        root = Path(tmp)
        (root / "wf.dig").write_text(w.dig)
        (root / "floor.py").write_text(w.floor)
        n = next((p.split("=")[1] for p in w.params if p.startswith("n=")), "0")
        run_argv = [*digpy, "run", "wf", "--rerun", "--output", "plain", "--log-level", w.log_level]
        for p in w.params:
            run_argv += ["-p", p]
        floor_argv = [sys.executable, "floor.py", n]
        results: dict[str, list[float]] = {"digpy": [], "mb": [], "floor": []}
        for i in range(runs + 1):  # the first run warms caches and is not counted
            elapsed, mb, code = measure(run_argv, root, root / "out.txt")
            lines = (root / "out.txt").read_text().count("\n")
            if code != 0 or lines != w.lines:
                raise SystemExit(f"{w.name}: digpy exited {code} with {lines} output lines (expected {w.lines}):\n"
                                 + (root / "stderr.txt").read_text()[-2000:])
            floor, _, floor_code = measure(floor_argv, root, root / "floor.txt")
            if floor_code != 0:
                raise SystemExit(f"{w.name}: the floor script failed")
            if i:
                results["digpy"].append(elapsed)
                results["mb"].append(mb)
                results["floor"].append(floor)
        return {k: statistics.median(v) for k, v in results.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--digpy", default=f"{sys.executable} -m digpy", help="how to run digpy")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    chosen = workloads()
    if args.only:
        names = set(args.only.split(","))
        chosen = [w for w in chosen if w.name in names]
    digpy = args.digpy.split()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d')}", file=sys.stderr)
    rows = {}
    start_up = None
    for w in chosen:
        r = run_workload(w, digpy, args.runs)
        rows[w.name] = r
        if w.name == "W0":
            start_up = r["digpy"] - r["floor"]
        print(f"{w.name}: digpy {r['digpy']:.2f} s, floor {r['floor']:.2f} s, {r['mb']:.0f} MB", file=sys.stderr)
    print("| workload | tasks | floor s | digpy s | ratio | target | met | digpy peak MB | overhead / task |")
    print("|---|---|---|---|---|---|---|---|---|")
    for w in chosen:
        r = rows[w.name]
        ratio = r["digpy"] / r["floor"]
        fixed = start_up if start_up is not None else 0.0
        per_task_ms = max(0.0, r["digpy"] - r["floor"] - fixed) / w.tasks * 1000
        met = ratio <= 1.5 if w.target == "1.5x" else per_task_ms < 0.2
        print(f"| {w.name} | {w.tasks} | {r['floor']:.2f} | {r['digpy']:.2f} | {ratio:.2f}x | {w.target} | "
              f"{'yes' if met else 'no'} | {r['mb']:.0f} | {per_task_ms:.3f} ms |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
