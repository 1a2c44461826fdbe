"""Compile one Dagu DAG (located data, v1 key names) into the engine's workflow config.

The result is the mapping a `.dig` file holds, so the engine compiles, runs, stores and shows it
like any other workflow: the root group runs its tasks in parallel (`_parallel`, limited by
`maxActiveSteps`), each step is a `+task` whose `_after` lists the steps it depends on, a shell
step is `sh>` with the DAG's params, env and special variables set at the top of its script, and
`preconditions` / `continueOn` / `retryPolicy` / `output` become `_precondition` / `_continue_on`
/ `_retry` / `output:`. Handlers are tasks after the steps (success, exit) and the root's `_error`
(failure, exit).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.executor import read_executor
from digpy.core.language.dagu.schema import DAG_KEYS, DAG_NOT_YET, STEP_KEYS, STEP_NOT_YET, normalized
from digpy.core.language.dagu.variables import Scope, for_shell, for_value, literal, shell_double, shell_quote
from digpy.core.workflow.located import ConfigList, ConfigMap, key_location, location_of, value_location

DEFAULT_CONCURRENCY = 10  # Dagu's default for `parallel:`
HANDLERS = ("init", "success", "failure", "exit")
HANDLERS_NOT_YET = ("cancel", "abort", "wait")
_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_\-=\[\]{}%&@,.`]")
_DURATION_MAX = 10 ** 9


class Step:
    """One step as read: its Dagu name, its task name, its config and its dependencies."""

    def __init__(self, name: str, task: str, config: ConfigMap, location: Location | None) -> None:
        self.name = name
        self.task = task
        self.config = config
        self.location = location
        self.depends: list[str] = []
        self.depends_location: Location | None = location


# A child DAG named in `run:` → the value of `call>` (a file) or an inline config (a local DAG).
ChildResolver = Callable[[str, Location | None], "str | dict[str, Any]"]


def compile_dag(dag: ConfigMap, name: str, resolve_child: ChildResolver) -> ConfigMap:
    """The workflow config of one DAG (`dag` with v1 key names; `name` its name)."""
    dag = normalized(dag, f"DAG '{name}'", DAG_KEYS, DAG_NOT_YET)
    scope = Scope(dag_name=name, params=_params(dag), env=_env(dag.get("env"), value_location(dag, "env")))
    steps = _steps(dag, scope)
    out = ConfigMap(location_of(dag))
    limit = dag.get("maxActiveSteps")
    if limit is not None:
        _whole(limit, "maxActiveSteps", value_location(dag, "maxActiveSteps"), minimum=1)
    _set(out, "_parallel", {"limit": limit} if limit else True, dag, "steps")
    _settings(dag, out)
    prelude = _Prelude(dag, scope)
    sources: list[str] = []
    handlers = _handlers(dag)
    if "init" in handlers:
        out["+on_init"] = _handler_task(handlers["init"], "init", scope, prelude, resolve_child, [], None)
        sources = ["+on_init"]
    if dag.get("preconditions") is not None:
        task = ConfigMap(value_location(dag, "preconditions"))
        task["sh>"] = "true"
        task["_precondition"] = _preconditions(dag["preconditions"], value_location(dag, "preconditions"),
                                               scope, prelude.text(None))
        if sources:
            task["_after"] = sources
        out["+preconditions"] = task
        sources = ["+preconditions"]
    for step in steps:
        task = _step_task(step, scope, prelude, resolve_child)
        after = [_task_of(steps, dep) for dep in step.depends] or sources
        if after:
            task["_after"] = after
        out[step.task] = task
    all_steps = [s.task for s in steps] or sources
    if "success" in handlers:
        task = _handler_task(handlers["success"], "success", scope, prelude, resolve_child, all_steps, "succeeded")
        if dag.get("preconditions") is not None:  # an unmet DAG precondition: no success (Dagu: aborted)
            task["_precondition"] = [*_preconditions(dag["preconditions"], value_location(dag, "preconditions"),
                                                     scope, prelude.text(None)), *task.get("_precondition", [])]
        out["+on_success"] = task
    if "exit" in handlers:
        out["+on_exit"] = _handler_task(handlers["exit"], "exit", scope, prelude, resolve_child,
                                        ["+on_success"] if "success" in handlers else all_steps, "succeeded")
    if "failure" in handlers or "exit" in handlers:
        error = ConfigMap(value_location(dag, "handlerOn"))
        for kind in ("failure", "exit"):
            if kind in handlers:
                error[f"+on_{kind}"] = _handler_task(handlers[kind], kind, scope, prelude, resolve_child, [],
                                                     "failed")
        out["_error"] = error
    return out


# ---------------------------------------------------------------- DAG settings

def _settings(dag: ConfigMap, out: ConfigMap) -> None:
    schedule = dag.get("schedule")
    loc = value_location(dag, "schedule")
    if schedule is not None:
        crons = schedule if isinstance(schedule, list) else [schedule]
        if isinstance(schedule, dict):
            raise ConfigError("schedule with start/stop/restart is not supported yet by digpy", location=loc,
                              hint="write a cron expression such as \"0 7 * * *\"")
        if len(crons) != 1:
            raise ConfigError("more than one schedule per DAG is not supported yet by digpy", location=loc,
                              hint="keep one cron expression, or split the DAG into one file per schedule")
        cron = crons[0]
        if not isinstance(cron, str):
            raise ConfigError("schedule must be a cron expression such as \"0 7 * * *\"", location=loc)
        cron = cron.strip()
        if cron.startswith("CRON_TZ="):
            zone, _, cron = cron[len("CRON_TZ="):].partition(" ")
            _set(out, "timezone", zone, dag, "schedule")
        _set(out, "schedule", _located({"cron>": cron.strip()}, loc), dag, "schedule")
    if dag.get("maxActiveRuns") is not None:
        runs = dag["maxActiveRuns"]
        if runs != -1:  # -1: never queue
            _set(out, "max_active_attempts", _whole(runs, "maxActiveRuns", value_location(dag, "maxActiveRuns"),
                                                   minimum=1), dag, "maxActiveRuns")
    if dag.get("queue") is not None:
        _set(out, "queue", dag["queue"], dag, "queue")
    if dag.get("timeoutSec") is not None:
        seconds = _whole(dag["timeoutSec"], "timeoutSec", value_location(dag, "timeoutSec"), minimum=1)
        _set(out, "sla", _located({"duration": _hms(seconds), "fail": True, "alert": False},
                                  value_location(dag, "timeoutSec")), dag, "timeoutSec")
    for key in ("description", "group"):
        if key in dag and not isinstance(dag[key], str):
            raise ConfigError(f"{key} must be a text", location=value_location(dag, key))
    tags = dag.get("tags")
    if tags is not None and not isinstance(tags, str | list):
        raise ConfigError("tags must be a list of words or a comma-separated text", location=value_location(dag, "tags"))
    if dag.get("type", "chain") not in ("chain", "graph"):
        raise ConfigError(f"type must be chain or graph, not {dag['type']!r}", location=value_location(dag, "type"),
                          hint="chain: each step after the one before (the default); graph: only depends")


def _params(dag: ConfigMap) -> dict[str, str | None]:
    """Named params with their defaults (positional ones are `$1`... in the shell, see _Prelude)."""
    value = dag.get("params")
    loc = value_location(dag, "params")
    named: dict[str, str | None] = {}
    for key, default in _param_items(value, loc):
        if key is not None:
            named[key] = default
    return named


def _param_items(value: Any, loc: Location | None) -> list[tuple[str | None, str]]:
    """`params:` as (name or None for a positional value, default), in order."""
    if value is None:
        return []
    items: list[tuple[str | None, str]] = []
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as e:
            raise ConfigError(f"params: {e}", location=loc) from None
        for word in words:
            key, eq, default = word.partition("=")
            items.append((key, default) if eq and _is_name(key) else (None, word))
        return items
    entries: list[Any] | None = list(value.items()) if isinstance(value, dict) else \
        value if isinstance(value, list) else None
    if entries is None:
        raise ConfigError("params must be a text, a list or a mapping", location=loc)
    for entry in entries:
        if isinstance(entry, tuple):
            key, default = entry
        elif isinstance(entry, dict) and len(entry) == 1:
            key, default = next(iter(entry.items()))
        elif isinstance(entry, str):
            key, eq, default = entry.partition("=")
            if not eq:
                items.append((None, entry))
                continue
        elif isinstance(entry, dict):
            raise ConfigError("typed params ({name, type, default}) are not supported yet by digpy", location=loc,
                              hint="write - NAME: default")
        else:
            items.append((None, _text(entry)))
            continue
        if not _is_name(str(key)):
            raise ConfigError(f"param name {key!r} is not a valid variable name", location=loc)
        items.append((str(key), _text(default)))
    return items


def _env(value: Any, loc: Location | None) -> dict[str, str]:
    """`env:` as an ordered mapping (a list of one-key mappings, `KEY=VALUE` texts, or a mapping)."""
    if value is None:
        return {}
    entries = list(value.items()) if isinstance(value, dict) else None
    if entries is None and isinstance(value, list):
        entries = []
        for item in value:
            if isinstance(item, dict):
                entries.extend(item.items())
            elif isinstance(item, str) and "=" in item:
                key, _, text = item.partition("=")
                entries.append((key, text))
            else:
                raise ConfigError("env entries are KEY: VALUE mappings or KEY=VALUE texts", location=loc)
    if entries is None:
        raise ConfigError("env must be a list of KEY: VALUE entries or a mapping", location=loc)
    out: dict[str, str] = {}
    for key, item in entries:
        if not _is_name(str(key)):
            raise ConfigError(f"env name {key!r} is not a valid variable name", location=loc)
        if isinstance(item, dict | list):
            raise ConfigError(f"env {key} must be a text", location=loc)
        out[str(key)] = _text(item)
    return out


def _handlers(dag: ConfigMap) -> dict[str, ConfigMap]:
    value = dag.get("handlerOn")
    if value is None:
        return {}
    loc = value_location(dag, "handlerOn")
    if not isinstance(value, dict):
        raise ConfigError("handlerOn must be a mapping such as {failure: {command: ...}}", location=loc)
    out: dict[str, ConfigMap] = {}
    for kind, handler in value.items():
        where = key_location(value, kind)
        if kind in HANDLERS_NOT_YET:
            raise ConfigError(f"handlerOn.{kind} is not supported yet by digpy", location=where,
                              hint="use exit (always runs) or failure")
        if kind not in HANDLERS:
            from digpy.core.workflow.tree import did_you_mean

            raise ConfigError(f"handlerOn: unknown handler '{kind}'", location=where,
                              hint=did_you_mean(kind, HANDLERS) or "handlers: " + ", ".join(HANDLERS))
        if isinstance(handler, str):
            handler = _located({"command": handler}, value_location(value, kind))
        out[kind] = normalized(handler, f"handlerOn.{kind}", STEP_KEYS, STEP_NOT_YET)
    return out


# ---------------------------------------------------------------- steps

def _steps(dag: ConfigMap, scope: Scope) -> list[Step]:
    value = dag.get("steps")
    loc = value_location(dag, "steps")
    graph = dag.get("type", "chain") == "graph"
    raw: list[tuple[str | None, Any, Location | None, int | None]] = []  # name, step, location, group
    if value is None:
        value = []
    if isinstance(value, dict):
        for key, item in value.items():
            raw.append((str(key), item, value_location(value, key), None))
    elif isinstance(value, list):
        for pos, item in enumerate(value):
            where = value.item_locs[pos] if isinstance(value, ConfigList) else loc
            if isinstance(item, list):  # a nested list: steps that run side by side
                for inner_pos, inner in enumerate(item):
                    inner_loc = item.item_locs[inner_pos] if isinstance(item, ConfigList) else where
                    raw.append((None, inner, inner_loc, pos))
            else:
                raw.append((None, item, where, None))
    else:
        raise ConfigError("steps must be a list or a mapping of steps", location=loc)
    steps: list[Step] = []
    names: dict[str, Step] = {}
    used_tasks: set[str] = set()
    groups: list[tuple[int | None, Step]] = []
    for number, (key, item, where, group) in enumerate(raw, start=1):
        if isinstance(item, str):
            item = _located({"command": item}, where)
        if not isinstance(item, dict):
            raise ConfigError("a step must be a mapping or a command", location=where)
        label = key or (item.get("name") if isinstance(item.get("name"), str) else None) or str(number)
        config = normalized(item, f"step '{label}'", STEP_KEYS, STEP_NOT_YET)
        name = config.get("name", key)
        if key is not None and config.get("name") not in (None, key):
            name = config["name"]
        if name is None:
            name = f"cmd_{number}"  # Dagu 1.30's name: cmd_ and the step's position
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a step name must be a text", location=value_location(config, "name") or where)
        if name in names:
            raise ConfigError(f"duplicate step name '{name}'", location=value_location(config, "name") or where)
        task = _task_name(name, used_tasks)
        step = Step(name, task, config, where)
        if "depends" in config:
            step.depends = _depends(config["depends"], value_location(config, "depends"))
            step.depends_location = value_location(config, "depends")
        names[name] = step
        steps.append(step)
        groups.append((group, step))
        if config.get("output") is not None:
            scope.outputs.add(_output_name(config["output"], value_location(config, "output")))
        if config.get("run") is not None:
            scope.child_steps.add(name)
    for step in steps:  # `id` is another name of a step in depends
        ident = step.config.get("id")
        if ident is None:
            continue
        if not isinstance(ident, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", ident):
            raise ConfigError("a step id is a word (letters, digits, _ and -)", location=value_location(step.config, "id"))
        if ident in names and names[ident] is not step:
            raise ConfigError(f"step id '{ident}' is also the name or id of another step",
                              location=value_location(step.config, "id"))
        names[ident] = step
    for step in steps:
        step.depends = list(dict.fromkeys(names[d].name if d in names else d for d in step.depends))
    if not graph:
        _chain(groups)
    for step in steps:
        for dep in step.depends:
            if dep not in names:
                from digpy.core.workflow.tree import did_you_mean

                raise ConfigError(f"step '{step.name}' depends on '{dep}', which is no step of this DAG",
                                  location=step.depends_location,
                                  hint=did_you_mean(dep, list(names)) or "steps: " + ", ".join(names))
    return _ordered(steps, names)


def _chain(groups: list[tuple[int | None, Step]]) -> None:
    """`type: chain` (Dagu v1.22-v1.30): each step also depends on the step (or group) before it."""
    previous: list[Step] = []
    current_group: int | None = None
    members: list[Step] = []
    for group, step in groups:
        if group is not None and group == current_group:
            members.append(step)
        else:
            if members:
                previous = members
            members = [step]
            current_group = group
        for before in previous:
            if before.name not in step.depends:
                step.depends.append(before.name)
    # (the last group's members are nobody's predecessors)


def _ordered(steps: list[Step], names: dict[str, Step]) -> list[Step]:
    """Steps in an order where each comes after what it depends on (`_after` names earlier tasks);
    a cycle is an error at the depends of a step on it."""
    done: set[str] = set()
    out: list[Step] = []
    remaining = list(steps)
    while remaining:
        ready = [s for s in remaining if all(d in done for d in s.depends)]
        if not ready:
            stuck = remaining[0]
            cycle = _cycle(stuck, names, done)
            raise ConfigError("the steps depend on each other in a cycle: " + " → ".join(cycle),
                              location=names[cycle[0]].depends_location, hint="remove one of these depends")
        for step in ready:
            done.add(step.name)
            out.append(step)
        remaining = [s for s in remaining if s.name not in done]
    return out


def _cycle(start: Step, names: dict[str, Step], done: set[str]) -> list[str]:
    path: list[str] = []
    current = start
    while current.name not in path:
        path.append(current.name)
        current = names[next(d for d in current.depends if d not in done)]
    return [*path[path.index(current.name):], current.name]


def _depends(value: Any, loc: Location | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, str | int) and not isinstance(i, bool) for i in items):
        raise ConfigError("depends must be a step name or a list of them", location=loc)
    return [str(i) for i in items]


def _task_name(name: str, used: set[str]) -> str:
    base = "+" + (_BAD_NAME_CHAR.sub("_", name.strip()) or "step")[:200]
    task, n = base, 1
    while task in used or task in ("+on_init", "+on_success", "+on_exit", "+on_failure", "+preconditions"):
        n += 1
        task = f"{base}_{n}"
    used.add(task)
    return task


def _task_of(steps: list[Step], name: str) -> str:
    return next(s.task for s in steps if s.name == name)


# Reads a dotenv file without running it: KEY=VALUE lines, `#` comments, an optional `export `, and
# one pair of quotes around a value are taken off; no line is executed.
_DOTENV_READER = (
    "if [ -f FILE ]; then while IFS= read -r _l || [ -n \"$_l\" ]; do case \"$_l\" in ''|'#'*) continue;; esac; "
    "_l=${_l#export }; _k=${_l%%=*}; _v=${_l#*=}; case \"$_v\" in \\\"*\\\") _v=${_v#?}; _v=${_v%?};; "
    "\\'*\\') _v=${_v#?}; _v=${_v%?};; esac; export \"$_k=$_v\"; done < FILE; fi"
)


def _dotenv(dag: ConfigMap) -> list[str]:
    """The dotenv files of a DAG, read in order: `.env` first, then those listed (`dotenv: []`: none)."""
    value = dag.get("dotenv")
    loc = value_location(dag, "dotenv")
    if value is None:
        return [".env"]
    files = value if isinstance(value, list) else [value]
    if not all(isinstance(f, str) and f for f in files):
        raise ConfigError("dotenv must be a file name or a list of them", location=loc)
    if not files:
        return []
    return list(dict.fromkeys([".env", *files]))


class _Prelude:
    """What every shell step sets before its command: the DAG's params, env and special variables."""

    def __init__(self, dag: ConfigMap, scope: Scope) -> None:
        self.scope = scope
        self.lines: list[str] = []
        loc = value_location(dag, "params")
        positional = [default for key, default in _param_items(dag.get("params"), loc) if key is None]
        self.lines.append(literal(f"export DAG_NAME={shell_quote(scope.dag_name)} DAG_RUN_ID=") + '"${session_uuid}"')
        # Dagu 1.30: env is worked out before the params (it does not see their defaults), and a
        # param wins over an env entry of its name; a param given to the run wins over its default.
        for key, value in scope.env.items():
            if key not in scope.params:
                self.lines.append(f"export {key}={for_shell(shell_double(value), scope, loc)}")
        for path in _dotenv(dag):  # after env: its entries win (Dagu appends them)
            self.lines.append(literal(_DOTENV_READER.replace("FILE", shell_quote(path))))
        for key, default in scope.params.items():
            word = shell_double(f"${{{key}={default or ''}}}")
            self.lines.append(f": {for_shell(word, scope, loc)}; export {key}")
        if positional:
            words = " ".join(for_shell(shell_double(p), scope, loc) for p in positional)
            self.lines.append(f"set -- {words}")
        self.workdir = dag.get("workingDir")
        self.workdir_location = value_location(dag, "workingDir")

    def text(self, step: Step | None, env: dict[str, str] | None = None, workdir: Any = None,
             status: str | None = None) -> str:
        lines = list(self.lines)
        if step is not None:
            lines.append(f"export DAG_RUN_STEP_NAME={_literal_word(step.name)}")
        if status is not None:
            lines.append(f"export DAG_RUN_STATUS={status}")
        for key, value in (env or {}).items():
            lines.append(f"export {key}={for_shell(shell_double(value), self.scope, None)}")
        directory = workdir if workdir is not None else self.workdir
        if directory is not None:
            if not isinstance(directory, str) or not directory:
                raise ConfigError("workingDir must be a directory", location=self.workdir_location)
            lines.append(f"cd {for_shell(shell_double(directory), self.scope, None)} || exit 1")
        return "\n".join(lines) + "\n"


def _literal_word(text: str) -> str:
    return literal(shell_quote(text))


def _step_task(step: Step, scope: Scope, prelude: _Prelude, resolve_child: ChildResolver,
               status: str | None = None) -> ConfigMap:
    config = step.config
    task = ConfigMap(step.location)
    env = _env(config.get("env"), value_location(config, "env"))
    executor = read_executor(config)
    if executor.kind == "dag":  # Dagu <= 1.16: `executor: dag` with the child DAG in `command`
        if config.get("command") is None or config.get("run") is not None:
            raise ConfigError(f"step '{step.name}': the dag executor names the child DAG in command",
                              location=key_location(config, "command") or step.location)
        config = ConfigMap(config.loc)
        for key, value in step.config.items():
            _set(config, "run" if key == "command" else key, value, step.config, key)
        step = Step(step.name, step.task, config, step.location)
    if config.get("run") is not None:
        _child_task(step, scope, resolve_child, task)
    else:
        if executor.kind == "docker":
            env = {**(executor.env or {}), **env}
        _shell_task(step, scope, prelude, env, status, task, workdir=executor.workdir)
        if executor.docker is not None:
            task["docker"] = executor.docker
    if config.get("output") is not None and config.get("run") is None:
        _set(task, "output", _output_name(config["output"], value_location(config, "output")), config, "output")
    if config.get("preconditions") is not None:
        pre_prelude = prelude.text(step, env, config.get("workingDir"), status)
        _set(task, "_precondition", _preconditions(config["preconditions"], value_location(config, "preconditions"),
                                                   scope, pre_prelude), config, "preconditions")
    if config.get("continueOn") is not None:
        _set(task, "_continue_on", _continue_on(config["continueOn"], value_location(config, "continueOn")),
             config, "continueOn")
    if config.get("retryPolicy") is not None:
        _set(task, "_retry", _retry(config["retryPolicy"], value_location(config, "retryPolicy")), config,
             "retryPolicy")
    if config.get("timeoutSec") is not None:
        seconds = _whole(config["timeoutSec"], "timeoutSec", value_location(config, "timeoutSec"), minimum=1)
        _set(task, "_timeout", seconds, config, "timeoutSec")
    return task


def _shell_task(step: Step, scope: Scope, prelude: _Prelude, env: dict[str, str], status: str | None,
                task: ConfigMap, workdir: str | None = None) -> None:
    config = step.config
    loc = step.location
    if config.get("parallel") is not None:
        raise ConfigError(f"step '{step.name}': parallel is only for steps that run a child DAG (run:)",
                          location=key_location(config, "parallel"))
    if config.get("params") is not None:
        raise ConfigError(f"step '{step.name}': params are only for steps that run a child DAG (run:)",
                          location=key_location(config, "params"))
    command = config.get("command")
    script = config.get("script")
    shell = config.get("shell")
    if command is None and script is None:
        raise ConfigError(f"step '{step.name}' has nothing to run", location=loc,
                          hint="give it a command, a script, or run: a child DAG")
    shell_words: list[str] | None = None
    if shell is not None:
        if not isinstance(shell, str | list):
            raise ConfigError("shell must be a command such as bash", location=value_location(config, "shell"))
        shell_words = shlex.split(shell) if isinstance(shell, str) else [str(w) for w in shell]
    head = prelude.text(step, env, workdir if workdir is not None else config.get("workingDir"), status)
    if script is not None and command is not None:
        # `command: python` + `script:`: the script is a file the command runs (not a shell script)
        if not isinstance(script, str):
            raise ConfigError("script must be a text", location=value_location(config, "script"))
        words = command if isinstance(command, list) else shlex.split(str(command))
        task["sh>"] = literal(script)
        task["shell"] = [str(w) for w in words]
        return
    if script is not None:
        if not isinstance(script, str):
            raise ConfigError("script must be a text", location=value_location(config, "script"))
        body = for_shell(script, scope, value_location(config, "script"))
    else:
        commands = command if isinstance(command, list) else [command]
        if not commands or not all(isinstance(c, str | int | float) and not isinstance(c, bool) for c in commands):
            raise ConfigError("command must be a text or a list of texts", location=value_location(config, "command"))
        # Dagu v1.29+: a list is several commands run in turn (the first failure stops the step)
        body = "\n".join(for_shell(str(c), scope, value_location(config, "command")) +
                         (" || exit $$?" if len(commands) > 1 else "") for c in commands)
    task["sh>"] = body
    task["setup"] = head
    where = key_location(config, "script" if script is not None else "command") or loc
    if where is not None:
        task.key_locs["sh>"] = task.value_locs["sh>"] = where
    if shell_words:
        task["shell"] = shell_words


def _child_task(step: Step, scope: Scope, resolve_child: ChildResolver, task: ConfigMap) -> None:
    config = step.config
    for key in ("command", "script", "shell"):
        if config.get(key) is not None:
            raise ConfigError(f"step '{step.name}' runs a child DAG and can't have {key}",
                              location=key_location(config, key))
    target = config["run"]
    loc = value_location(config, "run")
    if not isinstance(target, str) or not target.strip():
        raise ConfigError("run must name a DAG (a file of the project or a DAG of this file)", location=loc)
    params = _child_params(config.get("params"), value_location(config, "params"))
    parallel = config.get("parallel")
    if parallel is None:
        _call(task, resolve_child(target.strip(), loc), {k: for_value(v, scope, loc) for k, v in params.items()})
        return
    items, limit = _parallel(parallel, value_location(config, "parallel"), scope)
    task["_parallel"] = {"limit": limit}
    inner = Scope(**{**scope.__dict__, "items": True})
    child = resolve_child(target.strip(), loc)
    if isinstance(items, str):  # a variable: its items are known when the step runs (for_each>)
        body = ConfigMap(loc)
        _call(body, child, {k: for_value(v, inner, loc) for k, v in params.items()})
        task["for_each>"] = {"ITEM": "${" + _SPLIT_ITEMS + "(" + items + ")}"}
        task["_do"] = body
        return
    seen: set[str] = set()
    for pos, item in enumerate(items):
        text = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
        if text in seen:  # Dagu merges duplicate items into one child run
            continue
        seen.add(text)
        exported = {k: for_value(v, inner, loc).replace("${ITEM}", literal(text)) for k, v in params.items()}
        if not params and isinstance(item, dict):  # a map item without params: its keys are the params
            exported = {str(k): literal(_text(v)) for k, v in item.items()}
        exported["ITEM"] = literal(text)
        sub = ConfigMap(loc)
        _call(sub, child, exported)
        task[f"+item_{pos}"] = sub


# A variable's items (Dagu): a JSON array, one JSON value, or words split at newlines, commas,
# semicolons, pipes, tabs and spaces; map items are passed on as compact JSON.
_SPLIT_ITEMS = (
    "(function(v){v=String(v);var j;try{j=JSON.parse(v);}catch(e){j=undefined;}"
    "var a=j===undefined?v.split(/[\\n,;|\\t ]+/).filter(function(s){return s!=='';}):(j instanceof Array?j:[j]);"
    "return JSON.stringify(a.map(function(x){return typeof x==='string'?x:JSON.stringify(x);}));})"
)


def _call(task: ConfigMap, child: str | dict[str, Any], params: dict[str, str]) -> None:
    if isinstance(child, str):
        task["call>"] = child
        if params:
            task["_export"] = params
        return
    for key, value in child.items():  # a local DAG of the same file, inline
        task[key] = value
    if params:
        task["_export"] = {**(child.get("_export") or {}), **params}


def _child_params(value: Any, loc: Location | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pos, (key, default) in enumerate(_param_items(value, loc), start=1):
        out[key if key is not None else str(pos)] = default
    return out


def _parallel(value: Any, loc: Location | None, scope: Scope) -> tuple[list[Any] | str, int]:
    """The items of `parallel:` (a list, or the name of the variable that holds them) and the concurrency."""
    limit = DEFAULT_CONCURRENCY
    if isinstance(value, dict):
        if "items" not in value:
            raise ConfigError("parallel needs items", location=loc)
        extra = [k for k in value if k not in ("items", "maxConcurrent", "max_concurrent")]
        if extra:
            raise ConfigError(f"parallel: unknown key '{extra[0]}'", location=loc, hint="write {items, maxConcurrent}")
        limit = _whole(value.get("maxConcurrent", value.get("max_concurrent", DEFAULT_CONCURRENCY)),
                       "parallel maxConcurrent", loc, minimum=1)
        value = value["items"]
    if isinstance(value, str):
        reference = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", value.strip())
        if reference is None:
            try:
                value = shlex.split(value.replace(",", " ").replace(";", " ").replace("|", " "))
            except ValueError as e:
                raise ConfigError(f"parallel: {e}", location=loc) from None
        elif reference.group(1) in scope.outputs or reference.group(1) in scope.params:
            return reference.group(1), limit
        else:
            raise ConfigError(f"parallel: {value} is neither a param nor the output of a step", location=loc,
                              hint="name a param or an output (output: NAME) of an earlier step")
    if not isinstance(value, list):
        raise ConfigError("parallel must be a list of items, a variable, or {items, maxConcurrent}", location=loc)
    if not value:
        raise ConfigError("parallel has no items (Dagu refuses zero items too)", location=loc)
    return list(value), limit


# ---------------------------------------------------------------- control

def _preconditions(value: Any, loc: Location | None, scope: Scope, prelude: str) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            out.append({"command": prelude + for_shell(item, scope, loc)})
            continue
        if not isinstance(item, dict):
            raise ConfigError("a precondition is a command or {condition, expected}", location=loc)
        extra = [k for k in item if k not in ("condition", "expected")]
        if extra:
            hint = "negate is Dagu v2's; not supported yet by digpy" if extra[0] == "negate" else \
                "a precondition has condition and expected"
            raise ConfigError(f"precondition: unknown key '{extra[0]}'", location=key_location(item, extra[0]) or loc,
                              hint=hint)
        condition = item.get("condition")
        if not isinstance(condition, str | int | float) or isinstance(condition, bool):
            raise ConfigError("a precondition needs a condition (a text)", location=loc)
        expected = item.get("expected")
        if expected is None:
            out.append({"command": prelude + for_shell(str(condition), scope, loc)})
            continue
        word = for_shell(shell_double(str(condition)), scope, loc)
        out.append({"command": f"{prelude}printf '%s' {word}", "expected": literal(_text(expected))})
    return out


def _continue_on(value: Any, loc: Location | None) -> dict[str, Any]:
    if value in ("skipped", "failed", "failure"):
        return {"skipped": True} if value == "skipped" else {"failure": True}
    if not isinstance(value, dict):
        raise ConfigError("continueOn must be skipped, failed, or {failure, skipped, exitCode, output, markSuccess}",
                          location=loc)
    out: dict[str, Any] = {}
    names = {"failure": "failure", "failed": "failure", "skipped": "skipped", "exitCode": "exit_code",
             "exit_code": "exit_code", "output": "output", "markSuccess": "mark_success",
             "mark_success": "mark_success"}
    for key, item in value.items():
        if key not in names:
            from digpy.core.workflow.tree import did_you_mean

            raise ConfigError(f"continueOn: unknown key '{key}'", location=key_location(value, key) or loc,
                              hint=did_you_mean(key, list(names)) or "keys: failure, skipped, exitCode, output, "
                                                                      "markSuccess")
        if names[key] == "output" and isinstance(item, str | list):
            item = [literal(str(o)) for o in (item if isinstance(item, list) else [item])]
        out[names[key]] = item
    from digpy.core.workflow.control import parse_continue_on

    parse_continue_on(out, loc)
    return out


def _retry(value: Any, loc: Location | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("retryPolicy must be a mapping such as {limit: 3, intervalSec: 10}", location=loc)
    names = {"limit": "limit", "intervalSec": "interval", "interval_sec": "interval", "backoff": "backoff",
             "maxIntervalSec": "max_interval", "max_interval_sec": "max_interval", "exitCode": "exit_code",
             "exit_code": "exit_code"}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key not in names:
            from digpy.core.workflow.tree import did_you_mean

            raise ConfigError(f"retryPolicy: unknown key '{key}'", location=key_location(value, key) or loc,
                              hint=did_you_mean(key, list(names)) or "keys: limit, intervalSec, backoff, "
                                                                      "maxIntervalSec, exitCode")
        if names[key] == "backoff":
            if item is True or item == 2:
                out["interval_type"] = "exponential"
            elif item not in (False, None, 1):
                raise ConfigError("retryPolicy backoff other than true (doubling) is not supported yet by digpy",
                                  location=key_location(value, key) or loc, hint="write backoff: true")
            continue
        out[names[key]] = item
    if "limit" not in out:
        raise ConfigError("retryPolicy needs limit", location=loc)
    from digpy.core.workflow.retry import parse_retry

    parse_retry(out, loc)
    return out


def _handler_task(handler: ConfigMap, kind: str, scope: Scope, prelude: _Prelude, resolve_child: ChildResolver,
                  after: list[str], status: str | None) -> ConfigMap:
    if handler.get("depends") is not None:
        raise ConfigError(f"handlerOn.{kind} can't have depends", location=key_location(handler, "depends"))
    step = Step(str(handler.get("name", f"on_{kind}")), f"+on_{kind}", handler, location_of(handler))
    task = _step_task(step, scope, prelude, resolve_child, status)
    if after:
        task["_after"] = after
    task["_continue_on"] = {**(task.get("_continue_on") or {}), "skipped": True}
    return task


# ---------------------------------------------------------------- small helpers

def _output_name(value: Any, loc: Location | None) -> str:
    name = value[1:] if isinstance(value, str) and value.startswith("$") else value
    if not isinstance(name, str) or not _is_name(name):
        raise ConfigError("output must be a variable name such as RESULT", location=loc,
                          hint="the object form of Dagu v2 is not supported yet by digpy")
    return name


def _whole(value: Any, what: str, loc: Location | None, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or value > _DURATION_MAX:
        raise ConfigError(f"{what} must be a whole number from {minimum}", location=loc)
    return value


def _hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _is_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) is not None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _located(values: dict[str, Any], loc: Location | None) -> ConfigMap:
    out = ConfigMap(loc)
    for key, value in values.items():
        out[key] = value
        if loc is not None:
            out.key_locs[key] = loc
            out.value_locs[key] = loc
    return out


def _set(out: ConfigMap, key: str, value: Any, source: ConfigMap, source_key: str) -> None:
    """out[key] = value, located where `source_key` is written in `source`."""
    out[key] = value
    loc = key_location(source, source_key)
    if loc is not None:
        out.key_locs[key] = loc
        out.value_locs[key] = value_location(source, source_key) or loc
