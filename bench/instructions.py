"""Instructions executed by digpy's own process, counted by valgrind (callgrind), next to the floor.

    .venv/bin/python bench/instructions.py              # start-up and per-task cost of sh> and echo>
    .venv/bin/python bench/instructions.py --tasks 400

Wall time on a shared 2-CPU machine moves by ±20 % from hour to hour and by up to 3x from day to
day; an instruction count does not (the same figure to ±0.1 % run after run, whatever else the
machine does). Use this to decide whether a change to the engine's own code path helps, and
bench/workloads.py for what a user waits for.

Each figure is the instructions of one whole process (not of the commands it starts: valgrind does
not follow children), after an untimed run that fills the compiled-workflow cache:
  start-up     W0: one `sh>: "true"` task
  per sh> task (W2 of N tasks - W0) / N, where W2 is a `_parallel: {limit: 2}` group of N
               `sh>: "true"` and a join, as in bench/workloads.py
  per echo> task the same with `echo>: ""`
The floor is bench/workloads.py's: Python starting `/bin/sh -c true` with subprocess.Popen, in
batches of two. "Bare asyncio" is the start-up of an asyncio program that does nothing
(`asyncio.run` of an empty coroutine): what any asyncio engine pays before its own code.

valgrind 3.19 does not know the pidfd_open system call, so under it digpy waits for its children
with a thread each (its fallback for kernels without pidfds) instead of the epoll set it uses
otherwise: the sh> figure measures that path. Compare sh> figures with each other, not with
wall-time results. Standard library and valgrind only.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from workloads import _interpreter_of, _sh_floor, compile_bytecode

SH = '    sh>: "true"\n'


def count(argv: list[str], cwd: Path) -> int:
    """Instructions executed by the process `argv` (its children are not counted)."""
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv],
                         cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        sys.exit(f"{' '.join(argv)} failed under valgrind:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def group(n: int, body: str) -> str:
    return "+p:\n  _parallel: {limit: 2}\n" + "".join(f"  +t{i:04d}:\n{body}" for i in range(n)) \
        + "+join:\n  echo>: done\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=200, help="tasks in the W2-shaped workflows (default 200)")
    default = Path(sys.executable).with_name("digpy")
    parser.add_argument("--digpy", default=str(default), help="the digpy command")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    digpy = [args.digpy]
    python = _interpreter_of(digpy)
    compile_bytecode(python)
    n = args.tasks
    with tempfile.TemporaryDirectory(prefix="digpy-bench-") as tmp:
        root = Path(tmp)
        files = {"w0": '+t:\n  sh>: "true"\n', "sh": group(n, SH), "echo": group(n, '    echo>: ""\n')}
        for name, text in files.items():
            (root / f"{name}.dig").write_text(text)
        (root / "floor1.py").write_text(_sh_floor([1]))
        (root / "floor.py").write_text(_sh_floor([2] * (n // 2)))
        (root / "bare.py").write_text("import asyncio\n\nasync def main():\n    pass\n\nasyncio.run(main())\n")
        figures = {}
        for name in files:
            argv = [*digpy, "run", name, "--rerun", "--output", "plain"]
            subprocess.run(argv, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            figures[name] = count(argv, root)
        floor1, floor = count([python, "floor1.py"], root), count([python, "floor.py"], root)
        bare = count([python, "bare.py"], root)
    start = figures["w0"]
    rows = [
        ("start-up (W0)", start / 1e6, bare / 1e6, floor1 / 1e6, "M"),
        ("per sh> task (thread waiter)", (figures["sh"] - start) / n / 1e3, None, (floor - floor1) / n / 1e3, "k"),
        ("per echo> task", (figures["echo"] - start) / n / 1e3, None, None, "k"),
    ]
    print(f"Instructions of one process (callgrind), {n} tasks, Python {sys.version.split()[0]}\n")
    print("| figure | digpy | bare asyncio | floor | digpy / floor |")
    print("|---|---|---|---|---|")
    for label, ours, loop, theirs, unit in rows:
        cells = ["–" if v is None else f"{v:,.1f} {unit}" for v in (ours, loop, theirs)]
        ratio = "–" if theirs is None else f"{ours / theirs:.1f}×"
        print(f"| {label} | {' | '.join(cells)} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
