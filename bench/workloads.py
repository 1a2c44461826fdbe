"""Whole-process wall time and peak memory of `digpy run` on the standard workloads, next to the
physical floor (plain Python doing the same work with the same concurrency) measured in the same run.

    .venv/bin/python bench/workloads.py                        # everything, median of 3 after a warm-up
    .venv/bin/python bench/workloads.py --only W2,W3-100k --runs 5 --json
    .venv/bin/python bench/workloads.py --digpy "/path/to/python -m digpy"

Workloads (names for --only):
  W0          one `sh>: true` (digpy's fixed start-up)
  W1          100 sequential `sh>: true`
  W2          a `_parallel: {limit: 2}` group of 1000 `sh>: true`, then `+join: {echo>: done}`
  W4          10 sequential groups, each `_parallel: {limit: 2}` of 100 `sh>: true`
              (ANCHORS.md defines W4 as two at a time, so the groups are limited to 2)
  W3-10k      `loop>: 10000` with `_parallel: true` and `_do: {echo>: "${i}"}`, then a join
  W3-100k     the same with 100,000
  W3-seq-10k  `loop>: 10000` in sequence (a dependent chain: per-task latency)
W3 output goes to a file. If `digpy run` reports `loop>` unknown, W3-10k and W3-seq-10k fall back
to a generated file of 10,000 explicit `echo>` tasks and W3-100k is skipped; the output says so.

Each digpy run is `digpy run wf.dig --rerun --output plain` in a fresh temp project (its `.digpy`
store removed before every run), stdout and stderr to files; the W3 workloads also run a second
time with `--log-level warning` (the `/quiet` rows) to show the cost of one log line per task.
The floor is a Python script run by the interpreter digpy runs on, as its own process: `/bin/sh -c
true` through `subprocess.Popen` with the same concurrency (W2/W4 in batches of two, like
`_parallel: {limit: 2}`), or N lines printed for W3. Wall time is `time.perf_counter` around
`Popen` + `os.wait4`; peak memory is `wait4`'s `ru_maxrss` (the largest single process among digpy
and the children it reaped). Each figure is the median of --runs runs after one warm-up run;
digpy and floor runs alternate so that a change of machine load hits both.

Every digpy run must exit 0 and print the expected number of lines (W2/W3: the join's `done`
last), or the script stops with the run's stderr. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SH = '    sh>: "true"\n'


@dataclass
class Workload:
    name: str
    title: str
    dig: str  # the workflow file's text
    floor: str  # the floor script's text
    lines: int  # lines expected on digpy's stdout
    tasks: int  # N for the per-task figures
    target: str  # "ratio" (within 1.5x of the floor) or "per-task" (< 0.2 ms engine overhead)
    quiet_variant: bool = False  # also run with --log-level warning
    last_line: str | None = None
    note: str = ""


@dataclass
class Result:
    name: str
    title: str
    tasks: int
    target: str
    log_level: str
    floor_s: list[float] = field(default_factory=list)
    digpy_s: list[float] = field(default_factory=list)
    digpy_mb: list[float] = field(default_factory=list)
    floor_mb: list[float] = field(default_factory=list)
    digpy_cpu: list[float] = field(default_factory=list)
    floor_cpu: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def floor(self) -> float:
        return statistics.median(self.floor_s)

    @property
    def digpy(self) -> float:
        return statistics.median(self.digpy_s)

    @property
    def mb(self) -> float:
        return statistics.median(self.digpy_mb)

    @property
    def cpu(self) -> float:
        return statistics.median(self.digpy_cpu)

    @property
    def floor_cpu_s(self) -> float:
        return statistics.median(self.floor_cpu)


class BenchError(Exception):
    pass


# --- the workloads --------------------------------------------------------------------------

def _sh_floor(batches: list[int], done: bool = False) -> str:
    """Start `/bin/sh -c true` in batches (size 1: sequential; 2: two at a time), wait for each."""
    return (
        "import subprocess, sys\n"
        f"for size in {batches!r}:\n"
        "    procs = [subprocess.Popen(['/bin/sh', '-c', 'true']) for _ in range(size)]\n"
        "    for p in procs:\n"
        "        if p.wait() != 0: sys.exit(1)\n"
        + ("print('done')\n" if done else "")
    )


def _echo_floor(n: int, done: bool) -> str:
    return (
        "import sys\n"
        "w = sys.stdout.write\n"
        f"for i in range({n}):\n"
        "    w(f'{i}\\n')\n"
        + ("w('done\\n')\n" if done else "")
    )


def _loop(n: int, parallel: bool, explicit: bool) -> str:
    """W3: loop> of N echo> tasks, or (explicit) the same as N generated tasks."""
    if not explicit:
        text = f"+fan:\n  loop>: {n}\n" + ("  _parallel: true\n" if parallel else "") \
            + '  _do:\n    echo>: "${i}"\n'
    else:
        text = "+fan:\n" + ("  _parallel: true\n" if parallel else "") \
            + "".join(f"  +loop-{i}:\n    echo>: \"{i}\"\n" for i in range(n))
    return text + ("+join:\n  echo>: done\n" if parallel else "")


def workloads(loop_known: bool) -> list[Workload]:
    w1 = "".join(f"+t{i:03d}:\n{SH[2:]}" for i in range(100))
    w2 = "+p:\n  _parallel: {limit: 2}\n" + "".join(f"  +t{i:04d}:\n{SH}" for i in range(1000)) \
        + "+join:\n  echo>: done\n"
    w4 = "".join(f"+g{g}:\n  _parallel: {{limit: 2}}\n" + "".join(f"  +t{i:03d}:\n{SH}" for i in range(100))
                 for g in range(10))
    fallback = "" if loop_known else "loop> unknown: 10,000 explicit echo> tasks"
    chosen = [
        Workload("W0", "one `sh>`", "+t:\n  sh>: \"true\"\n", _sh_floor([1]), 0, 1, "start-up"),
        Workload("W1", "100 sequential `sh>`", w1, _sh_floor([1] * 100), 0, 100, "ratio"),
        Workload("W2", "1000 `sh>`, 2 at a time, join", w2, _sh_floor([2] * 500, done=True), 1, 1000, "ratio",
                 last_line="done"),
        Workload("W4", "10 groups × 100 `sh>`, 2 at a time", w4, _sh_floor([2] * 500), 0, 1000, "ratio"),
        Workload("W3-10k", "10,000 `echo>`, parallel, join", _loop(10_000, True, not loop_known),
                 _echo_floor(10_000, True), 10_001, 10_000, "per-task", True, "done", fallback),
    ]
    if loop_known:
        chosen.append(Workload("W3-100k", "100,000 `echo>`, parallel, join", _loop(100_000, True, False),
                               _echo_floor(100_000, True), 100_001, 100_000, "per-task", True, "done"))
    chosen.append(Workload("W3-seq-10k", "10,000 `echo>` in sequence", _loop(10_000, False, not loop_known),
                           _echo_floor(10_000, False), 10_000, 10_000, "per-task", True, "9999", fallback))
    return chosen


# --- measuring ------------------------------------------------------------------------------

def measure(argv: list[str], cwd: Path, stdout: Path, stderr: Path, timeout: float
            ) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS in MB, exit code, CPU seconds) of one whole process.

    The CPU seconds are user + system time of the process and the children it reaped (the
    commands it ran): unlike wall time, they barely move when other work shares the machine.
    """
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        timer = threading.Timer(timeout, os.killpg, (proc.pid, signal.SIGKILL))
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        timer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it; keep Popen from waiting again
    return elapsed, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def _check(w: Workload, code: int, out: Path, err: Path, log_level: str) -> None:
    text = out.read_text(errors="replace")
    lines = text.splitlines()
    problem = None
    if code != 0:
        problem = f"exited {code}"
    elif len(lines) != w.lines:
        problem = f"printed {len(lines)} lines, expected {w.lines}"
    elif w.last_line is not None and lines[-1] != w.last_line:
        problem = f"last line {lines[-1]!r}, expected {w.last_line!r}"
    if problem:
        tail = err.read_text(errors="replace")[-3000:]
        raise BenchError(f"\nFAILED: {w.name} (--log-level {log_level}): digpy {problem}.\n"
                         f"--- stderr (tail) ---\n{tail}\n--- stdout (tail) ---\n{text[-500:]}")


def run_workload(w: Workload, digpy: list[str], python: str, runs: int, log_level: str | None,
                 timeout: float) -> Result:
    result = Result(w.name + ("/quiet" if log_level else ""), w.title, w.tasks, w.target, log_level or "info",
                    note=w.note)
    with tempfile.TemporaryDirectory(prefix=f"digpy-bench-{w.name}-") as tmp:
        root = Path(tmp)
        (root / "wf.dig").write_text(w.dig)
        (root / "floor.py").write_text(w.floor)
        argv = [*digpy, "run", "wf.dig", "--rerun", "--output", "plain"]
        if log_level:
            argv += ["--log-level", log_level]
        out, err = root / "stdout.txt", root / "stderr.txt"
        for i in range(runs + 1):  # run 0 warms the page cache and is not counted
            shutil.rmtree(root / ".digpy", ignore_errors=True)  # every run starts from an empty store
            elapsed, mb, code, cpu = measure(argv, root, out, err, timeout)
            _check(w, code, out, err, result.log_level)
            f_elapsed, f_mb, f_code, f_cpu = measure([python, "floor.py"], root, root / "floor.out", root / "floor.err",
                                              timeout)
            if f_code != 0 or len((root / "floor.out").read_text().splitlines()) != w.lines:
                raise BenchError(f"FAILED: {w.name}: the floor script exited {f_code} or printed the wrong "
                                 f"number of lines:\n{(root / 'floor.err').read_text()[-2000:]}")
            if i:
                result.digpy_s.append(elapsed)
                result.digpy_mb.append(mb)
                result.floor_s.append(f_elapsed)
                result.floor_mb.append(f_mb)
                result.digpy_cpu.append(cpu)
                result.floor_cpu.append(f_cpu)
    return result


def loop_is_known(digpy: list[str], timeout: float) -> bool:
    """Whether this digpy knows `loop>` (another engineer may still be writing it)."""
    with tempfile.TemporaryDirectory(prefix="digpy-bench-probe-") as tmp:
        root = Path(tmp)
        (root / "wf.dig").write_text('+l:\n  loop>: 2\n  _do:\n    echo>: "${i}"\n')
        _, _, code, _ = measure([*digpy, "run", "wf.dig", "--rerun", "--output", "plain"], root,
                             root / "out", root / "err", timeout)
        err = (root / "err").read_text(errors="replace")
        if code == 0 and (root / "out").read_text().split() == ["0", "1"]:
            return True
        if "unknown operator" in err:
            return False
        raise BenchError(f"FAILED: the loop> probe exited {code}:\n{err[-2000:]}")


# --- the machine and the report -------------------------------------------------------------

def _interpreter_of(digpy: list[str]) -> str:
    """The Python that digpy runs on: the command's own interpreter, or its script's shebang."""
    first = digpy[0]
    if "python" in Path(first).name:
        return first
    try:
        with open(first, "rb") as f:
            head = f.readline().decode().strip()
        if head.startswith("#!") and "python" in head:
            return head[2:].split()[0]
    except OSError:
        pass
    return sys.executable


def machine(python: str) -> dict[str, str]:
    def grep(path: str, key: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    mem_kb = grep("/proc/meminfo", "MemTotal").split()[0]
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True).stdout.strip()
    return {
        "cpus": str(os.cpu_count()),
        "model": grep("/proc/cpuinfo", "model name"),
        "memory": f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else "?",
        "os": platform.platform(),
        "python": f"{version} ({python})",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def report(results: list[Result], startup: float | None, w0_mb: float | None) -> list[dict[str, object]]:
    """Print the markdown table; return its rows for the JSON file.

    Overhead per task = (digpy − floor − digpy's start-up) / N, where the start-up is W0's digpy
    time minus W0's floor; MB per 1k tasks = (peak − W0's peak) / N × 1000.
    """
    print("| workload | log level | tasks | floor s | digpy s | ratio | target | pass | digpy peak MB "
          "| overhead / task | MB / 1k tasks | CPU s floor / digpy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for r in results:
        ratio = r.digpy / r.floor
        per_task = mb_per_k = None
        if r.name != "W0" and startup is not None:
            per_task = (r.digpy - r.floor - startup) / r.tasks * 1000
            mb_per_k = (r.mb - (w0_mb or 0.0)) / r.tasks * 1000
        ok: bool | None
        if r.target == "ratio":
            target, ok = "≤ 1.5× floor", ratio <= 1.5
        elif r.target == "per-task":
            target = "< 0.2 ms/task" + (", < 500 MB" if r.tasks >= 100_000 else "")
            ok = per_task is not None and per_task < 0.2 and (r.tasks < 100_000 or r.mb < 500)
        else:
            target, ok = "– (start-up)", None
        verdict = "–" if ok is None else ("pass" if ok else "FAIL")
        name = r.name + (f" ({r.note})" if r.note else "")
        print(f"| {name} {r.title} | {r.log_level} | {r.tasks:,} | {r.floor:.2f} | {r.digpy:.2f} | {ratio:.2f}× "
              f"| {target} | {verdict} | {r.mb:.0f} | "
              + (f"{per_task:.3f} ms" if per_task is not None else "–") + " | "
              + (f"{mb_per_k:.2f}" if mb_per_k is not None else "–")
              + f" | {r.floor_cpu_s:.2f} / {r.cpu:.2f} |")
        rows.append({"name": r.name, "title": r.title, "log_level": r.log_level, "tasks": r.tasks,
                     "floor_s": r.floor, "digpy_s": r.digpy, "ratio": ratio, "digpy_peak_mb": r.mb,
                     "digpy_cpu_s": r.cpu, "floor_cpu_s": r.floor_cpu_s,
                     "overhead_ms_per_task": per_task, "mb_per_1k_tasks": mb_per_k, "pass": ok,
                     "samples": {"floor_s": r.floor_s, "digpy_s": r.digpy_s, "digpy_mb": r.digpy_mb,
                                 "floor_mb": r.floor_mb, "digpy_cpu_s": r.digpy_cpu, "floor_cpu_s": r.floor_cpu},
                     "note": r.note})
    if startup is not None:
        print(f"\nStart-up subtracted in the per-task figures: digpy W0 − floor W0 = {startup:.3f} s; "
              f"memory per 1k tasks = (peak − W0 peak {w0_mb:.0f} MB) / N × 1000.")
    return rows


def compile_bytecode(python: str) -> None:
    """Byte-compile digpy's modules, as `pip install` does for a regular install. An editable
    install run with PYTHONDONTWRITEBYTECODE=1 (set on this project's machines) would otherwise
    compile every module from source at every start (~30 ms of each run)."""
    code = ("import compileall, os, digpy, digpy.core, digpy.plugins, digpy.server, digpy.client; "
            "ok = all(compileall.compile_dir(os.path.dirname(m.__file__), quiet=1) "
            "for m in (digpy, digpy.core, digpy.plugins, digpy.server, digpy.client)); raise SystemExit(0 if ok else 1)")
    if subprocess.run([python, "-c", code], stdout=subprocess.DEVNULL).returncode != 0:
        print("NOTE: could not byte-compile digpy's modules; start-up includes compiling them", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated workload names (W0,W1,W2,W4,W3-10k,W3-100k,W3-seq-10k; "
                                       "W3 alone means every W3 workload)")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per workload, after one warm-up")
    default = Path(sys.executable).with_name("digpy")
    parser.add_argument("--digpy", default=str(default) if default.exists() else shutil.which("digpy") or "digpy",
                        help="the digpy command (a path, or a quoted command line such as 'python -m digpy')")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not byte-compile digpy's modules first (see compile_bytecode)")
    parser.add_argument("--no-quiet", action="store_true", help="skip the --log-level warning variants")
    parser.add_argument("--timeout", type=float, default=900, help="seconds before a run is killed")
    parser.add_argument("--json", nargs="?", const="", metavar="FILE",
                        help="also write the figures as JSON (default: bench/results/workloads-DATE.json)")
    args = parser.parse_args()

    digpy = shlex.split(args.digpy)
    python = _interpreter_of(digpy)
    info = machine(python)
    print(f"machine: {info['cpus']} CPUs, {info['model']}, {info['memory']}, {info['os']}", file=sys.stderr)
    print(f"python: {info['python']}; digpy: {' '.join(digpy)}; {info['date']}; load {info['load']}",
          file=sys.stderr)

    if not args.no_compile:
        compile_bytecode(python)
    loop_known = loop_is_known(digpy, args.timeout)
    if not loop_known:
        print("NOTE: digpy reports loop> unknown: W3 falls back to 10,000 explicit echo> tasks; "
              "W3-100k is skipped.", file=sys.stderr)
    chosen = workloads(loop_known)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        known = {w.name for w in chosen}
        unknown = [n for n in names if n not in known and n != "W3"]
        if unknown:
            parser.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
        chosen = [w for w in chosen if w.name in names or ("W3" in names and w.name.startswith("W3"))]
        # the per-task figures subtract digpy's start-up, which W0 measures
        if any(w.target == "per-task" for w in chosen) and not any(w.name == "W0" for w in chosen):
            chosen.insert(0, workloads(loop_known)[0])

    results: list[Result] = []
    try:
        for w in chosen:
            for level in [None] + (["warning"] if w.quiet_variant and not args.no_quiet else []):
                started = time.perf_counter()
                r = run_workload(w, digpy, python, args.runs, level, args.timeout)
                results.append(r)
                print(f"{r.name}: digpy {r.digpy:.3f} s (runs {', '.join(f'{x:.3f}' for x in r.digpy_s)}), "
                      f"floor {r.floor:.3f} s, peak {r.mb:.0f} MB; {time.perf_counter() - started:.0f} s; "
                      f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr, flush=True)
    except BenchError as e:
        print(e, file=sys.stderr)
        return 1

    sys.stderr.flush()
    w0 = next((r for r in results if r.name == "W0"), None)
    print(f"\nMachine: {info['cpus']} CPUs ({info['model']}), {info['memory']}, {info['os']}, "
          f"Python {info['python'].split()[0]}, {info['date']}. Median of {args.runs} runs after a warm-up.\n")
    rows = report(results, w0.digpy - w0.floor if w0 else None, w0.mb if w0 else None)
    if args.json is not None:
        path = Path(args.json) if args.json else HERE / "results" / f"workloads-{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"machine": info, "runs": args.runs, "digpy": digpy, "loop_known": loop_known,
                                    "results": rows}, indent=2))
        print(f"\nJSON: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
