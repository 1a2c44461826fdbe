"""`py>: [module.][Class.]method` runs a Python method in its own process.

The working directory is on sys.path; the method's arguments are bound by name from the params;
inside the task `import digdag` (or `import digpy`) gives `env.params`, `env.store(...)`,
`env.export(...)`, `env.add_subtask(...)`, `env.subtask_config` and `env.set_state(...)`. The interpreter is the one digpy runs on, or the
`python` option (a path or an argv list, also as `_export: {py: {python: ...}}`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from digpy.core.spi import ConfigError, OperatorContext, TaskError, TaskResult, hookimpl

RUNTIME = Path(__file__).with_name("py_runtime.py")


class PyOperator:
    name = "py"
    adds_tasks = True  # add_subtask: tasks not in the compiled workflow

    async def run(self, ctx: OperatorContext) -> TaskResult:
        command = ctx.command
        if not isinstance(command, str) or not command.strip():
            raise ConfigError(f"py> needs module.function or module.Class.method, got {command!r}")
        python = _python(ctx.params)
        with tempfile.TemporaryDirectory(prefix="digpy-py-") as tmp:
            request_path, result_path = os.path.join(tmp, "request.json"), os.path.join(tmp, "result.json")
            with open(request_path, "w", encoding="utf-8") as f:
                json.dump({"command": command.strip(), "params": dict(ctx.params)}, f, ensure_ascii=False,
                          default=str)
            code = await ctx.run_python(RUNTIME, [request_path, result_path], python=python,
                                        env={"PYTHONUNBUFFERED": "1"})
            result = _read(result_path)
        if code != 0 or "error" in result:
            message = result.get("error") or f"Python command failed with code {code}"
            raise TaskError(message, details=result.get("traceback"))
        return TaskResult(stores=result.get("store") or {}, exports=result.get("export") or {},
                          subtasks=result.get("subtasks"))


def _read(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _python(params: Any) -> list[str] | None:
    value = params.get("python")
    if value is None and isinstance(params.get("py"), dict):
        value = params["py"].get("python")
    if value is None:
        return None  # digpy's interpreter: forked from the warm worker
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f"py> python must be a path or a list of words, got {value!r}")


@hookimpl
def digpy_register_operators() -> list[type]:
    return [PyOperator]
