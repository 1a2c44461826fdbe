"""The same Dagu DAG files run by `digpy run` and by the real Dagu binary, side by side.

    npm pack @dagu-org/dagu-linux-x64@1.30.2 --pack-destination /tmp/dagu-bin   # once, not a test dependency
    tar xzf /tmp/dagu-bin/dagu-org-dagu-linux-x64-1.30.2.tgz -C /tmp/dagu-bin
    .venv/bin/python bench/dagu.py --dagu /tmp/dagu-bin/package/bin/dagu [--repeat 3] [--only seq100]

Workloads (each a file in a fresh project directory, run start to end; wall-clock seconds of the
whole command, median of --repeat runs, the two engines alternating):
  seq100    100 sequential `true` steps (type: chain);
  wide1000  1,000 independent `true` steps with maxActiveSteps: 2, then a join step that depends on all;
  fan1000   a `parallel:` fan-out of 1,000 items over a local child DAG running `true`, maxConcurrent: 10.
digpy runs with `--rerun --output plain` (state in the project's .digpy/); Dagu with `dagu start`
and its own DAGU_HOME in the same temporary directory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def seq100() -> str:
    return "steps:\n" + "".join(f"  - name: s{i}\n    command: \"true\"\n" for i in range(100))


def wide1000() -> str:
    steps = "".join(f"  - name: s{i}\n    command: \"true\"\n    depends: []\n" for i in range(1000))
    join = "  - name: join\n    command: \"true\"\n    depends: [" + ", ".join(f"s{i}" for i in range(1000)) + "]\n"
    return "type: graph\nmaxActiveSteps: 2\nsteps:\n" + steps + join


def fan1000() -> str:
    items = ", ".join(str(i) for i in range(1000))
    return ("steps:\n  - name: fan\n    run: item\n    parallel:\n      items: [" + items + "]\n"
            "      maxConcurrent: 10\n    params: \"N=${ITEM}\"\n---\nname: item\nparams:\n  - N: \"0\"\n"
            "steps:\n  - name: one\n    command: \"true\"\n")


WORKLOADS = {"seq100": seq100, "wide1000": wide1000, "fan1000": fan1000}


def timed(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[float, int]:
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        print(f"  ! {argv[0]} exited {result.returncode}: {result.stderr.strip()[-300:]}", file=sys.stderr)
    return elapsed, result.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dagu", required=True, help="path of the dagu binary (1.30.2)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=sorted(WORKLOADS), action="append")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    done = subprocess.run([args.dagu, "version"], capture_output=True, text=True)
    version = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["?"]
    print(f"dagu {version[0]}; digpy from {sys.executable}; {os.cpu_count()} CPUs")
    for name in args.only or list(WORKLOADS):
        with tempfile.TemporaryDirectory(prefix=f"bench-dagu-{name}-") as tmp:
            root = Path(tmp)
            project = root / "project"
            project.mkdir()
            (project / f"{name}.yaml").write_text(WORKLOADS[name](), encoding="utf-8")
            env = {**os.environ, "DAGU_HOME": str(root / "dagu-home")}
            digpy_argv = [sys.executable, "-m", "digpy", "run", f"{name}.yaml", "--rerun", "--output", "plain"]
            dagu_argv = [args.dagu, "start", str(project / f"{name}.yaml")]
            results: dict[str, list[float]] = {"digpy": [], "dagu": []}
            for _ in range(args.repeat):
                for engine, argv in (("digpy", digpy_argv), ("dagu", dagu_argv)):
                    elapsed, code = timed(argv, project, env, args.timeout)
                    results[engine].append(elapsed if code == 0 else float("nan"))
            line = ", ".join(f"{engine} {statistics.median(times):.2f} s ({' '.join(f'{t:.2f}' for t in times)})"
                             for engine, times in results.items())
            print(f"{name}: {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
