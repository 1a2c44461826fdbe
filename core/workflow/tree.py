"""Compile workflow and task tree configs into task specs: the engine's own format, whatever file it came from.

A task tree config is the mapping a `.dig` group holds (`+name` children, `op>:` operators, `_`
directives) and the format in which operators hand generated tasks back (`TaskResult.subtasks`).
The `.dig` front end compiles a workflow file's body with it, other front ends build the same
mappings, and the engine compiles generated tasks with it at run time.

The result is in pre-order: a task comes before its children, siblings in declaration order.
Dependencies exist only between siblings and are given as indexes into the same list.
Every check Digdag makes when it compiles a task is made here, with the location.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import Any

from digpy.core import options
from digpy.core.errors import ConfigError, Location, UnknownOperator
from digpy.core.workflow.control import (
    parse_continue_on,
    parse_preconditions,
    parse_repeat,
    parse_stop_grace,
    parse_stop_signal,
)
from digpy.core.workflow.located import key_location, location_of, to_plain, value_location, without_keys
from digpy.core.workflow.queue import attempt_limits
from digpy.core.workflow.retention import read_retention
from digpy.core.workflow.retry import parse_retry
from digpy.core.workflow.schedule import check_timezone
from digpy.core.workflow.sla import Sla, read_sla
from digpy.core.workflow.spec import NO_DIRECTIVES, Directives, TaskSpec, Workflow

GROUP_KEYS = (
    "timezone", "schedule", "sla", "_parallel", "_background", "_after", "_error", "_check", "_cancel", "_retry",
    "_export", "_secrets", "_workdir", "_disable", "_sla", "_continue_on", "_timeout", "_start_interval",
)
# Keys of an operator task that are directives, not params for the operator.
SUBTASK_KEYS = ("_do", "_else_do")
MAX_NAME_LENGTH = 255  # Digdag's limit, and the stores' column width
_TASK_NAME = re.compile(r"^\+[A-Za-z0-9_\-=\[\]{}%&@,.`]+$")
# Keys whose presence gives a task directives (most tasks have none: their Directives are shared).
_DIRECTIVE_KEYS = ("_retry", "_error", "_check", "_cancel", "_disable", "_sla", "_continue_on", "_parallel",
                   "_timeout", "_start_interval")


TOP_LEVEL_KEYS = ("timezone", "schedule", "sla", "queue", "max_active_attempts", "retention", "_export", "_error",
                  "_check", "_cancel", "_retry", "_parallel", "_timeout", "_start_interval")
# Top-level keys that are settings of the workflow, not of its root task (a called workflow drops them).
WORKFLOW_SETTINGS = ("timezone", "schedule", "sla", "queue", "max_active_attempts", "retention")
_WORKFLOW_NAME_BAD = re.compile(r'[+^@/\\:*?"<>|]')


def check_workflow_name(name: str, location: Location | None = None) -> None:
    """Workflow names come from file names: no leading digit, none of `+ ^ @ / \\ : * ? " < > |`."""
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"workflow name '{name[:40]}...' is longer than {MAX_NAME_LENGTH} characters",
                          location=location)
    if not name or name[0].isdigit() or _WORKFLOW_NAME_BAD.search(name) or name.strip() != name:
        raise ConfigError(
            f"invalid workflow name '{name}'",
            location=location,
            hint='a workflow name must not start with a digit or contain + ^ @ / \\ : * ? " < > |',
        )


def compile_workflow(
    name: str, config: Mapping[str, Any], *, operators: Collection[str] | None = None, lenient: bool = False,
) -> Workflow:
    """Compile a whole workflow file; `operators` (if given) are the known operator names.

    An unknown operator is an error, or with `lenient` (what a run does: such a task fails when it
    is reached, as in Digdag) listed in `Workflow.unknown_operators`."""
    root_loc = location_of(config)
    check_workflow_name(name, root_loc)
    for key in config:
        if not key.startswith("+") and key not in TOP_LEVEL_KEYS and not key.startswith("!"):
            raise ConfigError(
                f"unknown top-level key '{key}' in workflow '{name}'",
                location=key_location(config, key),
                hint=did_you_mean(key, TOP_LEVEL_KEYS) or "top-level keys are tasks (+name) and "
                + ", ".join(TOP_LEVEL_KEYS),
            )
    timezone = config.get("timezone", "UTC")
    if not isinstance(timezone, str) or not timezone:
        raise ConfigError("timezone must be a time zone name such as UTC or Asia/Tokyo",
                          location=value_location(config, "timezone"))
    check_timezone(timezone, value_location(config, "timezone"))
    schedule = config.get("schedule")
    if schedule is not None and not isinstance(schedule, dict):
        raise ConfigError("schedule must be a mapping such as {daily>: 07:00:00}",
                          location=value_location(config, "schedule"))
    limits = attempt_limits(config)
    retention = read_retention(config)
    body = without_keys(dict(config) if not isinstance(config, dict) else config, WORKFLOW_SETTINGS)
    unknown: list[UnknownOperator] | None = [] if lenient else None
    sla = None
    if config.get("sla") is not None:
        sla = _Compiler(operators, unknown).sla(f"+{name}", config["sla"], value_location(config, "sla"),
                                                workflow=True)
    return Workflow(
        name=name,
        timezone=timezone,
        tasks=compile_tree(f"+{name}", f"+{name}", body, operators=operators, group=True, unknown=unknown),
        config=to_plain(config),
        schedule=to_plain(schedule) if schedule is not None else None,
        schedule_location=value_location(config, "schedule") if schedule is not None else None,
        location=root_loc,
        unknown_operators=unknown or [],
        limits=limits,
        retention=retention,
        sla=sla,
    )


def compile_tree(
    name: str, full_name: str, config: Mapping[str, Any], *, operators: Collection[str] | None = None,
    group: bool = False, unknown: list[UnknownOperator] | None = None,
) -> list[TaskSpec]:
    """Compile a task tree config rooted at `full_name` (a workflow body, or a generated `^sub`,
    `^error`, `^check`); `operators` (if given) are the known operator names.

    `group=True` makes the root a group even if it has no children (a workflow body, generated
    `^sub` configs). An unknown operator is an error, or, given an `unknown` list (what a run
    does: such a task fails when it is reached, as in Digdag), added to it.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{full_name}: a task must be a mapping, got {type(config).__name__}",
                          location=location_of(config))
    compiler = _Compiler(operators, unknown)
    compiler.compile_task(name, full_name, config, None, location_of(config), force_group=group)
    return compiler.tasks


def directives_of(config: Mapping[str, Any], full_name: str) -> Directives:
    """The directives of a stored task's config (checked when it was compiled)."""
    if not any(key in config for key in _DIRECTIVE_KEYS):
        return NO_DIRECTIVES
    return _Compiler(None).directives(full_name, dict(config), is_operator="_type" in config)


def unknown_operator_warning(error: UnknownOperator) -> str:
    """What a run says at its start of an operator it let through (see compile_workflow's `lenient`)."""
    where = "" if error.location is not None else f"{error.task}: "
    return f"{where}{error} (a task using it fails when it is reached)"


def is_operator_config(config: Mapping[str, Any]) -> bool:
    """An operator task has `_type` or a key ending in `>`."""
    return "_type" in config or any(isinstance(k, str) and k.endswith(">") for k in config)


class _Compiler:
    def __init__(self, operators: Collection[str] | None, unknown: list[UnknownOperator] | None = None) -> None:
        self.operators = operators
        self.unknown = unknown  # None: an unknown operator is an error; else it is collected here
        self.tasks: list[TaskSpec] = []

    def compile_task(
        self, name: str, full_name: str, config: Any, parent: int | None, loc: Location | None,
        *, force_group: bool = False,
    ) -> int:
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise ConfigError(
                f"task {full_name} must be a mapping of keys to values, got {describe(config)}",
                location=loc, hint="write `+task: {echo>: hello}` or put the task's keys on the next lines",
            )
        index = len(self.tasks)
        children = [k for k in config if isinstance(k, str) and k.startswith("+")]
        operator_keys = [k for k in config if isinstance(k, str) and k.endswith(">")]
        is_operator = is_operator_config(config) and not force_group
        if force_group and operator_keys:
            raise ConfigError(f"{full_name} can't have an operator ({operator_keys[0]}) at this level",
                              location=key_location(config, operator_keys[0]))
        if is_operator:
            self._check_operator(full_name, config, operator_keys, children)
        else:
            self._check_group(full_name, config)
        child_keys = set(children)
        own = {}
        for key, value in config.items():
            if key in child_keys or key == "_export" or key.startswith("!"):
                continue
            own[key] = value
        export = config.get("_export") or {}
        if not isinstance(export, dict):
            raise ConfigError(f"{full_name}: _export must be a mapping", location=value_location(config, "_export"))
        if not is_operator and "_workdir" in own and "_workdir" not in export:
            export = {**export, "_workdir": own["_workdir"]}  # a group's _workdir is its tasks'
        spec = TaskSpec(
            name=name, full_name=full_name, parent=parent, is_group=not is_operator,
            config=_normalize_operator(own) if is_operator else to_plain(own), export=to_plain(export),
            location=key_location(config, operator_keys[0]) if operator_keys else loc,
        )
        self.tasks.append(spec)
        spec.directives = self.directives(full_name, config, is_operator)
        if is_operator:
            return index
        child_indexes = []
        for child in children:
            if len(child) > MAX_NAME_LENGTH:
                raise ConfigError(f"task name '{child[:40]}...' is longer than {MAX_NAME_LENGTH} characters",
                                  location=key_location(config, child))
            if not _TASK_NAME.match(child):
                bad = next((c for c in child[1:] if not re.match(r"[A-Za-z0-9_\-=\[\]{}%&@,.`]", c)), None)
                raise ConfigError(
                    f"invalid task name '{child}'" + (f": character {bad!r} is not allowed" if bad else ""),
                    location=key_location(config, child),
                    hint="task names use ASCII letters, digits and _ - = [ ] { } % & @ , . `",
                )
            child_indexes.append(
                self.compile_task(child, full_name + child, config[child], index, value_location(config, child))
            )
        self._link(full_name, config, child_indexes)
        return index

    def _check_operator(self, full_name: str, config: dict[str, Any], operator_keys: list[str],
                        children: list[str]) -> None:
        if len(operator_keys) > 1:
            raise ConfigError(
                f"task {full_name} has more than one operator: {', '.join(operator_keys)}",
                location=key_location(config, operator_keys[1]), hint="a task runs exactly one operator",
            )
        if operator_keys and "_type" in config:
            raise ConfigError(f"task {full_name} has both _type and {operator_keys[0]}",
                              location=key_location(config, "_type"))
        if children:
            raise ConfigError(
                f"operator task {full_name} can't have subtasks ({children[0]})",
                location=key_location(config, children[0]),
                hint="move the operator into its own +task, or the subtasks into a group",
            )
        op = operator_keys[0][:-1] if operator_keys else config.get("_type")
        loc = key_location(config, operator_keys[0] if operator_keys else "_type")
        if not isinstance(op, str) or not op:
            raise ConfigError(f"task {full_name}: _type must be an operator name", location=loc)
        if self.operators is not None and "$" not in op and op not in self.operators:
            close = difflib.get_close_matches(op, list(self.operators), n=1)
            error = UnknownOperator(
                op, location=loc, suggestion=close[0] if close else None, task=full_name,
                hint=f"did you mean '{close[0]}>'?" if close else "run `digpy plugins` to list the operators",
            )
            if self.unknown is None:
                raise error
            self.unknown.append(error)
        for key in SUBTASK_KEYS:
            if key not in config:
                continue
            value = config[key]
            if not isinstance(value, dict) and not (isinstance(value, str) and "${" in value):
                raise ConfigError(f"task {full_name}: {key} must be a task (a mapping), got {describe(value)}",
                                  location=value_location(config, key), hint=f"write {key}: {{echo>: hi}}")
            if isinstance(value, dict) and "$" not in repr(to_plain(value)):
                compile_tree("^sub", full_name + "^sub", value, operators=self.operators, unknown=self.unknown)

    def _check_group(self, full_name: str, config: dict[str, Any]) -> None:
        for key in config:
            if key.startswith("+") or key.startswith("!") or key in GROUP_KEYS:
                continue
            hint = did_you_mean(key, GROUP_KEYS)
            raise ConfigError(
                f"group {full_name} has an invalid key '{key}'",
                location=key_location(config, key),
                hint=hint or "a group holds +tasks and directives; params go under _export or into a task",
            )

    def directives(self, full_name: str, config: dict[str, Any], is_operator: bool) -> Directives:
        """Check the directives of a task and read the ones the state machine acts on."""
        if "_workdir" in config and not (isinstance(config["_workdir"], str) and config["_workdir"].strip()):
            raise ConfigError(f"{full_name}: _workdir must be a directory of the project, relative to it",
                              location=value_location(config, "_workdir"), hint="write _workdir: path/in/project")
        retry, retry_templated = None, False
        if config.get("_retry") is not None:
            if not _templated(config["_retry"]):
                retry = parse_retry(to_plain(config["_retry"]), value_location(config, "_retry"))
            elif is_operator:
                retry_templated = True  # evaluated with the task's params when it runs
            else:
                raise ConfigError(f"{full_name}: the _retry of a group can't use ${{...}}",
                                  location=value_location(config, "_retry"),
                                  hint="a group's directives are not evaluated: write a number or a mapping")
        subtrees: dict[str, tuple[TaskSpec, ...] | None] = {}
        if config.get("_cancel") is not None and is_operator:
            raise ConfigError(f"{full_name}: _cancel is for groups and the workflow",
                              location=key_location(config, "_cancel"), hint="put it on the group around the task")
        for key, generated in (("_error", "^error"), ("_check", "^check"), ("_cancel", "^cancel")):
            subtrees[key] = None
            if key in config and config[key] is not None:
                sub = config[key]
                if not isinstance(sub, dict):
                    raise ConfigError(f"{full_name}: {key} must be a task (a mapping)",
                                      location=value_location(config, key))
                subtrees[key] = tuple(compile_tree(generated, full_name + generated, sub, operators=self.operators,
                                                   unknown=self.unknown))
        timeout = None
        for key in ("_timeout", "_start_interval"):
            value = config.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value <= 0):
                raise ConfigError(f"{full_name}: {key} is a number of seconds (> 0)",
                                  location=value_location(config, key), hint=f"write {key}: 30")
        if config.get("_timeout") is not None and not is_operator:  # an operator's is the runner's
            timeout = float(config["_timeout"])
        start_interval = 0.0
        if config.get("_start_interval") is not None:
            if is_operator:
                raise ConfigError(f"{full_name}: _start_interval is for groups and the workflow",
                                  location=key_location(config, "_start_interval"),
                                  hint="put it on the group whose tasks should start apart")
            start_interval = float(config["_start_interval"])
        continue_failure = False
        if config.get("_continue_on") is not None:
            # failure: true also covers the tasks an operator generates (call>, for_each>: its ^sub)
            continue_on = parse_continue_on(to_plain(config["_continue_on"]), value_location(config, "_continue_on"))
            if not is_operator and (continue_on.skipped or continue_on.exit_codes or continue_on.output):
                raise ConfigError(f"{full_name}: the _continue_on of a group takes failure (and mark_success) only",
                                  location=value_location(config, "_continue_on"),
                                  hint="put skipped, exit_code or output on the operator tasks in it")
            continue_failure = continue_on.failure
        for key, parse in (("_precondition", parse_preconditions), ("_continue_on", parse_continue_on),
                           ("_repeat", parse_repeat), ("_stop_signal", parse_stop_signal),
                           ("_stop_grace", parse_stop_grace)):
            if config.get(key) is not None:
                if key == "_continue_on" and not is_operator:
                    continue
                if not is_operator:
                    raise ConfigError(f"{full_name}: {key} is for operator tasks, not groups",
                                      location=key_location(config, key))
                parse(to_plain(config[key]), value_location(config, key))
        running = None
        if "_parallel" in config:
            _on, _limit, running = parse_parallel(config["_parallel"], value_location(config, "_parallel"),
                                                  allow_template=is_operator)
            running = None if is_operator else running  # an operator's is its generated group's
        for key in ("_background", "_disable"):
            if key in config and not isinstance(config[key], bool):
                raise ConfigError(f"{full_name}: {key} must be true or false",
                                  location=value_location(config, key))
        disable = config.get("_disable") is True
        sla = None
        if config.get("_sla") is not None:
            sla = self.sla(full_name, config["_sla"], value_location(config, "_sla"), workflow=False)
        if retry is None and not retry_templated and not disable and subtrees["_error"] is None \
                and subtrees["_check"] is None and subtrees["_cancel"] is None and sla is None and not continue_failure \
                and running is None and not start_interval and timeout is None:
            return NO_DIRECTIVES
        return Directives(retry=retry, retry_templated=retry_templated, error=subtrees["_error"],
                          check=subtrees["_check"], disable=disable, sla=sla, cancel=subtrees["_cancel"],
                          continue_failure=continue_failure, running=running, start_interval=start_interval,
                          timeout=timeout)

    def sla(self, full_name: str, value: Any, location: Location | None, *, workflow: bool) -> Sla:
        """A workflow's `sla:` or a task's `_sla`, with its `+tasks` compiled as `FULL_NAME^sla`."""
        sla, body = read_sla(value, task=full_name, workflow=workflow, location=location)
        tasks = compile_tree("^sla", full_name + "^sla", body, operators=self.operators, group=True,
                             unknown=self.unknown)
        return sla._replace(tasks=tuple(tasks))

    def _link(self, full_name: str, config: dict[str, Any], children: list[int]) -> None:
        parallel, limit, _running = parse_parallel(config.get("_parallel"), value_location(config, "_parallel"))
        by_name: dict[str, int] = {}
        for index in children:
            spec = self.tasks[index]
            child_config = config[spec.name]
            background = isinstance(child_config, dict) and child_config.get("_background") is True
            after = child_config.get("_after") if isinstance(child_config, dict) else None
            loc = value_location(child_config, "_after") if after is not None else None
            if after is not None and not parallel:
                raise ConfigError(
                    f'setting "_after" on {spec.full_name} is invalid: its parent group has no "_parallel: true"',
                    location=loc,
                )
            if background and parallel:
                raise ConfigError(f"_background on {spec.full_name} is invalid inside a _parallel group",
                                  location=value_location(child_config, "_background"))
            if after is not None:
                deps = after if isinstance(after, list) else [after]
                if not all(isinstance(dep, str | int | float) and not isinstance(dep, bool)
                                       for dep in deps):
                    raise ConfigError(f"_after of {spec.full_name} must name earlier sibling tasks",
                                      location=loc, hint="write _after: +name or _after: [+a, +b]")
                for dep in deps:
                    dep = str(dep)
                    if dep not in by_name:
                        known = ", ".join(by_name) or "none"
                        raise ConfigError(
                            f"dependency task '{dep}' of {spec.full_name} does not exist before it",
                            location=loc, hint=f"_after names an earlier sibling ({known})",
                        )
                    spec.upstreams.append(by_name[dep])
            by_name[spec.name] = index
        if parallel:
            if limit is not None:
                for pos, index in enumerate(children):
                    batch = pos // limit
                    if batch > 0:
                        previous = children[(batch - 1) * limit: batch * limit]
                        self.tasks[index].upstreams = _merge_ids(previous, self.tasks[index].upstreams)
            return
        previous_normal: int | None = None
        background_since: list[int] = []
        for index in children:
            child_config = config[self.tasks[index].name]
            if isinstance(child_config, dict) and child_config.get("_background") is True:
                background_since.append(index)
                continue
            ups = ([previous_normal] if previous_normal is not None else []) + background_since
            self.tasks[index].upstreams = ups
            previous_normal = index
            background_since = []


def parse_parallel(value: Any, location: Location | None, *,
                   allow_template: bool = False) -> tuple[bool, int | None, int | None]:
    """`_parallel: true|false|{limit: N}|{running: N}` → (parallel, limit, running); an operator's may
    be `${...}` (`allow_template`: read by the operator once evaluated)."""
    if _templated(value):
        if allow_template:
            return isinstance(value, dict), None, None
        raise ConfigError("_parallel of a group must be a literal true, false, {limit: N} or {running: N}",
                          location=location, hint="${...} is only evaluated in loop>, for_each> and for_range>")
    return options.parallel_mode(value, "_parallel", location)


def _normalize_operator(own: dict[str, Any]) -> dict[str, Any]:
    """`op>: X` becomes `_type: op` + `_command: X`, keeping the key order of the other keys."""
    out: dict[str, Any] = {}
    op_key = next((k for k in own if k.endswith(">")), None)
    out["_type"] = op_key[:-1] if op_key else own.get("_type")
    for key, value in own.items():
        if key == "_type":
            continue
        if key == op_key:
            out["_command"] = to_plain(value)
        else:
            out[key] = to_plain(value)
    return out


def _merge_ids(first: list[int], second: list[int]) -> list[int]:
    return first + [i for i in second if i not in first]


def _templated(value: Any) -> bool:
    return "${" in repr(to_plain(value))


def did_you_mean(key: str, candidates: Collection[str]) -> str | None:
    close = difflib.get_close_matches(key, list(candidates), n=2, cutoff=0.6)
    if not close:
        return None
    return "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"


def describe(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


__all__ = [
    "GROUP_KEYS",
    "MAX_NAME_LENGTH",
    "TOP_LEVEL_KEYS",
    "WORKFLOW_SETTINGS",
    "check_workflow_name",
    "compile_tree",
    "compile_workflow",
    "describe",
    "did_you_mean",
    "directives_of",
    "is_operator_config",
    "parse_parallel",
]
