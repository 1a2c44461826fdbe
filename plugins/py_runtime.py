"""The child side of `py>`: runs one Python method in its own process (stdlib only).

Run as a script: `python py_runtime.py REQUEST.json RESULT.json`. It puts the working directory
on sys.path, makes `digdag` and `digpy` importable with the task API (`env.params`, `env.store`,
`env.export`, `env.add_subtask`, `env.subtask_config`, `env.set_state`), imports `[module.][Class.]method`, binds the method's arguments
by name from the params, calls it, and writes the stores, exports and subtasks to RESULT.json.
Any Python exception is written there too, and the process exits with code 1.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import traceback
import types
from typing import Any


class MissingParameter(Exception):
    """A method argument that no param provides (reported without a traceback)."""


class Env:
    """The task API seen as `digdag.env` / `digpy.env` inside a py> task."""

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = params
        self.store_params: dict[str, Any] = {}
        self.export_params: dict[str, Any] = {}
        # The generated group `^sub`: add_subtask adds `+subtaskN` to it; a script may also set its
        # directives (`subtask_config["_parallel"] = True`) or tasks itself, as in Digdag.
        self.subtask_config: dict[str, Any] = {}
        # As in Digdag's runner: kept during this call only (Digdag does not hand it back).
        self.state_params: dict[str, Any] = {}
        self._subtask_index = 0

    def store(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Make params visible to the tasks that run after this one."""
        _merge(self.store_params, _json_params(params, kwargs))

    def export(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Make params visible to this task's generated subtasks."""
        _merge(self.export_params, _json_params(params, kwargs))

    def set_state(self, params: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Update `state_params` (Digdag's API; the state does not outlive the call)."""
        _merge(self.state_params, _json_params(params, kwargs))

    def add_subtask(self, function: Any = None, **params: Any) -> None:
        """Add a generated subtask: a function or method (run with py>) or a task config mapping."""
        if function is None:
            config = dict(params)
        elif isinstance(function, dict):
            config = {**function, **params}
        elif callable(function):
            config = {"py>": _qualified_name(function), **params}
        else:
            raise TypeError(f"add_subtask takes a function, a method or a mapping, got {type(function).__name__}")
        self.subtask_config[f"+subtask{self._subtask_index}"] = _json_params(config, {})
        self._subtask_index += 1


def _json_params(params: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Params as JSON keeps them: a mapping whose values JSON can hold (or TypeError, as Digdag's)."""
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params must be a mapping, got {type(params).__name__}")
    merged = {**(params or {}), **kwargs}
    try:
        loaded: dict[str, Any] = json.loads(json.dumps(merged, ensure_ascii=False, allow_nan=False))
        return loaded
    except (TypeError, ValueError) as e:
        raise TypeError(f"Parameters must be serializable using JSON: {e}") from None


def _merge(target: dict[str, Any], source: dict[str, Any]) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def _qualified_name(function: Any) -> str:
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if not module or not qualname or "<locals>" in qualname:
        raise TypeError("add_subtask needs a module-level function or a method of a module-level class")
    return f"{module}.{qualname}"


def _install_api(env: Env) -> None:
    shim = types.ModuleType("digdag", "The Digdag task API, provided by digpy.")
    shim.env = env  # type: ignore[attr-defined]
    sys.modules["digdag"] = shim
    try:
        import digpy

        digpy.env = env  # type: ignore[attr-defined]
    except ImportError:  # another interpreter without digpy installed
        own = types.ModuleType("digpy", "The digpy task API.")
        own.env = env  # type: ignore[attr-defined]
        sys.modules["digpy"] = own


def _resolve(command: str) -> tuple[Any, str, Any]:
    """`mod.func`, `mod.Class.method`, `pkg.mod.Class` → (callable owner, display name, callable)."""
    parts = command.split(".")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"py> expects module.function or module.Class.method, got '{command}'")
    errors = []
    for cut in range(len(parts) - 1, 0, -1):
        module_name, attrs = ".".join(parts[:cut]), parts[cut:]
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                errors.append(module_name)
                continue
            raise
        owner = obj
        for attr in attrs:
            owner = obj
            if not hasattr(obj, attr):
                raise AttributeError(f"'{'.'.join(parts[:cut] + attrs[: attrs.index(attr)])}' has no attribute "
                                     f"'{attr}' (py>: {command})")
            obj = getattr(obj, attr)
        return owner, ".".join(attrs), obj
    raise ModuleNotFoundError(f"no module named '{errors[-1]}' (py>: {command}); the working directory is on "
                              "sys.path")


def _call(function: Any, display: str, params: dict[str, Any]) -> Any:
    signature = inspect.signature(function)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        if parameter.kind is parameter.VAR_KEYWORD:
            kwargs.update({k: v for k, v in params.items() if k not in kwargs and k not in signature.parameters})
            continue
        if parameter.kind is parameter.VAR_POSITIONAL:
            continue
        if name in params:
            if parameter.kind is parameter.POSITIONAL_ONLY:
                args.append(params[name])
            else:
                kwargs[name] = params[name]
        elif parameter.default is parameter.empty:
            raise MissingParameter(f"Method '{display}' requires parameter '{name}' but not set")
    return function(*args, **kwargs)


def run(request: dict[str, Any], env: Env) -> None:
    params = request["params"]
    _install_api(env)
    owner, display, target = _resolve(request["command"])
    if inspect.isclass(target):  # a class given as the callable: instantiate it and call run()
        instance = _call(target, display, params)
        _call(instance.run, f"{display}.run", params)
    elif inspect.isclass(owner) and inspect.isfunction(target):  # Class.method: instantiate first
        instance = _call(owner, display.rsplit(".", 1)[0], params)
        _call(getattr(instance, target.__name__), display, params)
    else:
        _call(target, display, params)


def _result(env: Env) -> dict[str, Any]:
    subtasks = dict(env.subtask_config) if env.subtask_config else None  # nothing set: no `^sub`
    return {"store": env.store_params, "export": env.export_params, "subtasks": subtasks}


def _user_traceback(error: BaseException) -> str:
    """The traceback, with its chained causes, without the frames of this runtime (at the start, or
    inside `env.store()`)."""
    report = traceback.TracebackException.from_exception(error)
    seen: set[int] = set()
    pending = [report]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.stack = traceback.StackSummary.from_list([f for f in current.stack if f.filename != __file__])
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)
    return "".join(report.format())


def main(argv: list[str]) -> int:
    request_path, result_path = argv[1], argv[2]
    with open(request_path, encoding="utf-8") as f:
        request = json.load(f)
    sys.path.insert(0, os.getcwd())
    sys.argv = [request["command"]]
    env = Env(request["params"])
    try:
        run(request, env)
        result, code = _result(env), 0
    except BaseException as e:  # the user's code failed: report it, do not crash the engine
        if isinstance(e, SystemExit) and e.code in (0, None):  # a success: keep what it stored
            result, code = _result(env), 0
        else:
            if isinstance(e, MissingParameter):
                message, trace = str(e), ""
            else:
                message = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
                trace = _user_traceback(e)
                sys.stderr.write(trace)  # into the task's log
            result = {"error": message, "traceback": trace}
            code = 1
    try:
        text = json.dumps(result, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        text = json.dumps({"error": f"py> result is not JSON-serialisable: {e}"})
        code = 1
    with open(result_path, "w", encoding="utf-8") as f:
        f.write(text)
    return code


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr,unused-ignore]
    code = main(sys.argv)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # nobody reads the output any more (`digpy run | head`): the task's result stands
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, stream.fileno())
    raise SystemExit(code)
