"""How far above the floor an asyncio engine starts, before it does any work of its own.

    .venv/bin/python bench/asyncio_floor.py            # W1, W2 and W4 shapes, median of 7

For each workload shape (W1: 100 commands one after another; W2: 1000 in batches of two; W4: ten
groups of 100 in batches of two), two scripts run as their own processes, alternating:

  floor    plain Python: `subprocess.Popen` of `/bin/sh -c true`, then `wait()` (what
           bench/workloads.py calls the floor);
  asyncio  the least an asyncio engine does: `asyncio.run`, `os.posix_spawn`, one pidfd per child
           watched by the event loop, `asyncio.gather` of each batch. Nothing is persisted and no
           params are merged.

The ratio asyncio / floor is the part of digpy's ratio that no engine work explains (see
docs/performance.md). Standard library only.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = """
import subprocess, sys
batches = [int(x) for x in sys.argv[1].split(",")]
for size in batches:
    procs = [subprocess.Popen(["/bin/sh", "-c", "true"]) for _ in range(size)]
    for p in procs:
        p.wait()
"""

ASYNCIO = """
import asyncio, os, sys
batches = [int(x) for x in sys.argv[1].split(",")]

async def one(loop):
    pid = os.posix_spawn("/bin/sh", ["/bin/sh", "-c", "true"], os.environ, setpgroup=0)
    fd = os.pidfd_open(pid)
    done = loop.create_future()

    def exited():
        loop.remove_reader(fd)
        os.close(fd)
        done.set_result(os.waitpid(pid, 0))

    loop.add_reader(fd, exited)
    return await done

async def main():
    loop = asyncio.get_running_loop()
    for size in batches:
        await asyncio.gather(*(one(loop) for _ in range(size)))

asyncio.run(main())
"""

SHAPES = {"W1": [1] * 100, "W2": [2] * 500, "W4": [2] * 500}


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - started


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as tmp:
        floor, loop = Path(tmp) / "floor.py", Path(tmp) / "asyncio_loop.py"
        floor.write_text(FLOOR)
        loop.write_text(ASYNCIO)
        print("| shape | floor s | bare asyncio s | ratio |")
        print("|---|---|---|---|")
        for name, batches in SHAPES.items():
            arg = ",".join(map(str, batches))
            times: dict[str, list[float]] = {"floor": [], "asyncio": []}
            for script in (floor, loop):  # warm-up
                timed([sys.executable, str(script), arg])
            for i in range(runs):
                order = [("floor", floor), ("asyncio", loop)]
                for label, script in order if i % 2 == 0 else order[::-1]:
                    times[label].append(timed([sys.executable, str(script), arg]))
            f, a = statistics.median(times["floor"]), statistics.median(times["asyncio"])
            print(f"| {name} | {f:.3f} | {a:.3f} | {a / f:.2f}× |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
