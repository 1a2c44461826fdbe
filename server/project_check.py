"""A pushed project's workflows loaded and compiled first in a child process, with a time and a
memory limit, so that a file that would crash or exhaust the loader takes down only the child.

The server then loads the same files itself (bounded: the child just did it within the limits).
`python -m digpy.server.project_check` reads `{"root": DIR, "operators": {...}}` on stdin and
writes `{"ok": true}` or `{"error": "wf.dig:3:1: ..."}` on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from digpy.core.errors import ConfigError, DigpyError
from digpy.core.workflow.spec import OperatorSet

SECONDS = float(os.environ.get("DIGPY_PUSH_CHECK_SECONDS") or 30.0)
MEMORY_BYTES = 1024 * 1024 * 1024


def check_in_child(root: Path, operators: OperatorSet) -> None:
    """Load and compile every workflow of the project at `root` in a child process; raises
    ConfigError with the first error (located), or when the child runs out of time or crashes."""
    request = json.dumps({"root": str(root), "operators": {
        "names": sorted(operators), "adds_tasks": sorted(operators.adds_tasks),
        "calls_workflow": sorted(operators.calls_workflow)}})
    try:
        done = subprocess.run([sys.executable, "-m", "digpy.server.project_check"], input=request,
                              capture_output=True, text=True, timeout=SECONDS, start_new_session=True)
    except subprocess.TimeoutExpired:  # run() has killed it
        raise ConfigError(f"loading the project's workflows took longer than {SECONDS:g} s",
                          hint="split large or generated workflows") from None
    lines = done.stdout.strip().splitlines()
    answer: Any = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    if isinstance(answer, dict) and "error" in answer:
        raise ConfigError(str(answer["error"]))
    if done.returncode != 0 or answer != {"ok": True}:
        how = f"signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
        last = done.stderr.strip().splitlines()[-1:] or [""]
        raise ConfigError(f"loading the project's workflows failed ({how}{': ' + last[0] if last[0] else ''})",
                          hint="run digpy check on the project")


def main() -> None:
    from digpy.core.engine.expressions import die_with_parent, limit_memory
    from digpy.core.project import Project

    die_with_parent()
    limit_memory(MEMORY_BYTES)
    request = json.loads(sys.stdin.read())
    ops = request["operators"]
    operators = OperatorSet(ops["names"], adds_tasks=ops["adds_tasks"], calls_workflow=ops["calls_workflow"])
    project = Project(Path(request["root"]))
    try:
        for path in project.workflow_files():
            project.load(path, operators=operators, cache=False, lenient=True)
        answer: dict[str, Any] = {"ok": True}
    except DigpyError as e:
        answer = {"error": str(e)}
    except (RecursionError, MemoryError) as e:
        answer = {"error": f"loading the project's workflows failed ({type(e).__name__})"}
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
