"""A DAG's steps: read (list or map, bare strings, nested groups, generated names), linked
(`type: chain` or `depends`), and ordered so that each comes after what it depends on."""

from __future__ import annotations

import re
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.common import located_map, output_name
from digpy.core.language.dagu.executor import read_executor
from digpy.core.language.dagu.schema import STEP_KEYS, STEP_NOT_YET, normalized
from digpy.core.language.dagu.variables import (
    CHILD_OUTPUT_REF,
    FAN_OUT_REF,
    RUN_FILES,
    STEP_REFERENCE,
    Scope,
    reference_kind,
)
from digpy.core.workflow.located import ConfigList, ConfigMap, to_plain, value_location

_BAD_NAME_CHAR = re.compile(r"[^A-Za-z0-9_\-=\[\]{}%&@,.`]")
RESERVED = ("+on_init", "+on_success", "+on_exit", "+on_failure", "+preconditions")


class Step:
    """One step as read: its Dagu name, its task name, its config and its dependencies."""

    def __init__(self, name: str, task: str, config: ConfigMap, location: Location | None) -> None:
        self.name = name
        self.task = task
        self.config = config
        self.location = location
        self.depends: list[str] = []
        self.depends_location: Location | None = location


def read_steps(dag: ConfigMap, scope: Scope) -> list[Step]:
    value = dag.get("steps")
    loc = value_location(dag, "steps")
    graph = dag.get("type", "chain") == "graph"
    raw: list[tuple[str | None, Any, Location | None, int | None]] = []  # name, step, location, group
    places: list[int] = []  # each step's place in the list (a nested list's steps share theirs), 1 first
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
            places.extend([pos + 1] * (len(raw) - len(places)))
    else:
        raise ConfigError("steps must be a list or a mapping of steps", location=loc)
    steps: list[Step] = []
    names: dict[str, Step] = {}
    used_tasks: set[str] = set()
    groups: list[tuple[int | None, Step]] = []
    generated: set[str] = set()
    for position, (key, item, where, group) in enumerate(raw):
        if isinstance(item, str):
            item = located_map({"command": item}, where)
        if not isinstance(item, dict):
            raise ConfigError("a step must be a mapping or a command", location=where)
        label = key or (item.get("name") if isinstance(item.get("name"), str) else None) or str(position + 1)
        config = normalized(item, f"step '{label}'", STEP_KEYS, STEP_NOT_YET)
        name = config.get("name", key)
        if key is not None and config.get("name") not in (None, key):
            name = config["name"]
        if name is None:
            name = generated_name(config, dag, places[position], generated)
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("a step name must be a text", location=value_location(config, "name") or where)
        if name in names:
            raise ConfigError(f"duplicate step name '{name}'", location=value_location(config, "name") or where)
        task = task_name(name, used_tasks)
        step = Step(name, task, config, where)
        if "depends" in config:
            step.depends = read_depends(config["depends"], value_location(config, "depends"))
            step.depends_location = value_location(config, "depends")
        names[name] = step
        steps.append(step)
        groups.append((group, step))
        if config.get("output") is not None:
            scope.outputs.add(output_name(config["output"], value_location(config, "output")))
        if config.get("run") is not None or read_executor(config).kind == "dag":
            scope.child_steps.add(name)
            if config.get("parallel") is not None:
                scope.fan_outs.add(name)
    text = repr(to_plain(dag))
    for ref in CHILD_OUTPUT_REF.finditer(text):  # which child outputs are read, by name
        if ref.group(1) in scope.child_steps:
            scope.child_outputs.setdefault(ref.group(1), set()).add(ref.group(2))
    scope.fan_out_reads = {ref.group(1) for ref in FAN_OUT_REF.finditer(text)} & scope.fan_outs
    scope.run_files = RUN_FILES.search(text) is not None
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
        scope.step_ids.add(ident)
    for ref in STEP_REFERENCE.finditer(text):  # ${id.stdout}...: what each step must keep
        if ref.group(1) in scope.step_ids:
            scope.references.setdefault(ref.group(1), set()).add(reference_kind(ref.group(2)))
    for step in steps:
        step.depends = list(dict.fromkeys(names[d].name if d in names else d for d in step.depends))
    if not graph:
        link_chain(groups)
    for step in steps:
        for dep in step.depends:
            if dep not in names:
                from digpy.core.workflow.tree import did_you_mean

                raise ConfigError(f"step '{step.name}' depends on '{dep}', which is no step of this DAG",
                                  location=step.depends_location,
                                  hint=did_you_mean(dep, list(names)) or "steps: " + ", ".join(names))
    return in_dependency_order(steps, names)


def generated_name(config: ConfigMap, dag: ConfigMap, number: int, used: set[str]) -> str:
    """Dagu 1.30's name of an unnamed step: its kind (the executor's type; docker for a container;
    parallel or dag for a child DAG; script for a script or a command of several lines; cmd for a
    command) and its place in the list (1 first), the next free number if another step has it."""
    executor = config.get("executor")
    kind = config.get("type") if config.get("type") is not None else \
        executor.get("type") if isinstance(executor, dict) else executor
    command = config.get("command")
    if isinstance(kind, str) and kind.strip():
        prefix = kind.strip()
    elif config.get("container") is not None:
        prefix = "docker"
    elif config.get("run") is not None:
        prefix = "parallel" if config.get("parallel") is not None else "dag"
    elif dag.get("container") is not None or dag.get("ssh") is not None:
        prefix = "container" if dag.get("container") is not None else "ssh"
    elif config.get("script") or (isinstance(command, str) and "\n" in command.strip()):
        prefix = "script"
    elif command is not None:
        prefix = "cmd"
    else:
        prefix = "step"
    while f"{prefix}_{number}" in used:
        number += 1
    used.add(f"{prefix}_{number}")
    return f"{prefix}_{number}"


def link_chain(groups: list[tuple[int | None, Step]]) -> None:
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


def in_dependency_order(steps: list[Step], names: dict[str, Step]) -> list[Step]:
    """Steps in an order where each comes after what it depends on (`_after` names earlier tasks);
    a cycle is an error at the depends of a step on it."""
    done: set[str] = set()
    out: list[Step] = []
    remaining = list(steps)
    while remaining:
        ready = [s for s in remaining if all(d in done for d in s.depends)]
        if not ready:
            stuck = remaining[0]
            cycle = find_cycle(stuck, names, done)
            raise ConfigError("the steps depend on each other in a cycle: " + " → ".join(cycle),
                              location=names[cycle[0]].depends_location, hint="remove one of these depends")
        for step in ready:
            done.add(step.name)
            out.append(step)
        remaining = [s for s in remaining if s.name not in done]
    return out


def find_cycle(start: Step, names: dict[str, Step], done: set[str]) -> list[str]:
    path: list[str] = []
    current = start
    while current.name not in path:
        path.append(current.name)
        current = names[next(d for d in current.depends if d not in done)]
    return [*path[path.index(current.name):], current.name]


def read_depends(value: Any, loc: Location | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(i, str | int) and not isinstance(i, bool) for i in items):
        raise ConfigError("depends must be a step name or a list of them", location=loc)
    return [str(i) for i in items]


def task_name(name: str, used: set[str]) -> str:
    base = "+" + (_BAD_NAME_CHAR.sub("_", name.strip()) or "step")[:200]
    task, n = base, 1
    while task in used or task in RESERVED:  # the names of the tasks a DAG adds itself
        n += 1
        task = f"{base}_{n}"
    used.add(task)
    return task


def task_of(steps: list[Step], name: str) -> str:
    return next(s.task for s in steps if s.name == name)

