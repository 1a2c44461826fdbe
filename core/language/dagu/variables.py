"""Dagu's `${VAR}` / `$VAR` references, rewritten into the engine's template text.

Dagu expands variables itself before a shell runs; digpy lets the step's shell do it: a DAG's
params and env, the outputs of earlier steps and the special variables are all in the shell's
environment, so a command keeps its `$` references as they are (escaped from `${...}` evaluation
as `$$` and `${"$"}{`). Only the forms a shell cannot read are turned into `${...}` expressions: JSON paths into
an output (`${CONFIG.db.host}`) and a child DAG's outputs (`${STEP.outputs.NAME}`). Text that
never reaches a shell (a child DAG's params) gets every known variable as an expression.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from digpy.core.errors import ConfigError, Location

REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
STEP_REFERENCES = (".stdout", ".stderr", ".exitCode", ".exit_code")


CACHE_ROOT = "${XDG_CACHE_HOME:-$HOME/.cache}/digpy/dagu-steps"  # where runs keep step files without logDir


@dataclass
class Scope:
    """The variables a DAG defines, as far as they are known when it is compiled."""

    dag_name: str
    params: dict[str, str | None] = field(default_factory=dict)  # named param → its default
    env: dict[str, str] = field(default_factory=dict)  # DAG env, in order
    outputs: set[str] = field(default_factory=set)  # `output:` names of its steps
    child_steps: set[str] = field(default_factory=set)  # steps that run a child DAG
    fan_outs: set[str] = field(default_factory=set)  # steps that run a child DAG per item (parallel:)
    child_outputs: dict[str, set[str]] = field(default_factory=dict)  # step → its outputs read as ${STEP.outputs.X}
    step_ids: set[str] = field(default_factory=set)  # the `id`s of its steps
    references: dict[str, set[str]] = field(default_factory=dict)  # id → what is read of it: stdout, stderr, exitCode
    fan_out_reads: set[str] = field(default_factory=set)  # fan-out steps read as ${STEP.outputs...}
    files_root: str = CACHE_ROOT  # where runs keep step files and their log (setup.files_root: logDir)
    run_files: bool = False  # its text names DAG_RUN_LOG_FILE, DAG_RUN_STEP_STDOUT_FILE or ..._STDERR_FILE
    items: bool = False  # inside a `parallel:` fan-out: ${ITEM}
    max_output_size: int | None = None  # `maxOutputSize`: bytes an `output:` may keep
    shell: list[str] | None = None  # the DAG's `shell`: the steps' shell unless they give their own
    call_args: dict[str, dict[str, str]] = field(default_factory=dict)  # run: step → param → the param holding it
    smtp: dict[str, Any] = field(default_factory=dict)  # `smtp`'s host, port, username as mail> options
    container: Any = None  # DAG-level `container:`: the executor of its steps that have none (container.py)


def for_shell(text: str, scope: Scope, location: Location | None) -> str:
    """Dagu text that a shell reads: kept as it is but for the references only an expression can read."""
    out: list[str] = []
    last = 0
    for match in REFERENCE.finditer(text):
        if match.start() and text[match.start() - 1] == "\\":  # `\${x}`: the shell prints it as written
            continue
        expression = _path_expression(match, scope, location)
        if expression is None:
            continue
        out.append(literal(text[last:match.start()]))
        out.append(expression)
        last = match.end()
    out.append(literal(text[last:]))
    return "".join(out)


def for_value(text: str, scope: Scope, location: Location | None, depth: int = 0) -> str:
    """Dagu text that no shell reads (a child DAG's params): every known variable as an expression."""
    out: list[str] = []
    last = 0
    for match in REFERENCE.finditer(text):
        name = match.group(1) or match.group(3)
        replaced = _path_expression(match, scope, location)
        if replaced is None:
            replaced = _variable(name, scope, location, depth)
        if replaced is None:
            continue
        out.append(literal(text[last:match.start()]))
        out.append(replaced)
        last = match.end()
    out.append(literal(text[last:]))
    return "".join(out)


def _variable(name: str, scope: Scope, location: Location | None, depth: int) -> str | None:
    if name in scope.outputs or (name == "ITEM" and scope.items):
        return "${" + name + "}"
    if name in scope.params:
        default = scope.params[name]
        if default is None:
            return "${" + name + "}"
        return "${typeof " + name + ' === "undefined" ? ' + json.dumps(default) + " : " + name + "}"
    if name in scope.env and depth < 20:
        return for_value(scope.env[name], scope, location, depth + 1)
    if name == "DAG_NAME":
        return literal(scope.dag_name)
    if name == "DAG_RUN_ID":
        return "${session_uuid}"
    return None


def _path_expression(match: re.Match[str], scope: Scope, location: Location | None) -> str | None:
    name, path = match.group(1), match.group(2)
    if not name or not path:
        return None
    if path in STEP_REFERENCES:
        if name in scope.step_ids:  # empty when the step was skipped (then so is a step after it, unless...)
            param = step_reference_param(name, path)
            return "${typeof " + param + ' === "undefined" ? "" : ' + param + "}"
        if name not in scope.outputs and name not in scope.params:
            raise ConfigError(f"{match.group(0)}: no step of this DAG has the id {name}", location=location,
                              hint=f"give the step id: {name} (Dagu reads these references by a step's id, not its name)")
    if name in scope.fan_outs and (path == ".outputs" or path.startswith((".outputs.", ".outputs["))):
        # the aggregate's `outputs`: a list, one entry per child that succeeded, in item order
        if path.startswith(".outputs."):
            raise ConfigError(f"{match.group(0)}: a parallel: fan-out has the outputs of each of its children",
                              location=location, hint=f"write ${{{name}.outputs[0]{path[len('.outputs'):]}}} "
                              "(the first child that succeeded), or keep the whole with output: NAME")
        return "${JSON.parse(" + fan_out_param(name) + ")" + path + "}"
    if name in scope.child_steps and path.startswith(".outputs."):
        rest = path[len(".outputs."):]
        head, _, tail = rest.partition(".")
        param = child_output_param(name, head)
        return "${" + (f"JSON.parse({param}).{tail}" if tail else param) + "}"
    if name in scope.outputs or name in scope.params or (name == "ITEM" and scope.items):
        return "${JSON.parse(" + name + ")" + path + "}"
    return None


def reference_kind(path: str) -> str:
    """`.stdout`, `.stderr`, `.exitCode` / `.exit_code` → stdout, stderr, exitCode."""
    return "exitCode" if path in (".exitCode", ".exit_code") else path[1:]


def step_reference_param(ident: str, path: str) -> str:
    """The param that holds `${ident.stdout}` (`path` ".stdout"), `.stderr` or `.exitCode`."""
    return f"{ident}__{reference_kind(path)}"


STEP_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(\.stdout|\.stderr|\.exitCode|\.exit_code)\}")


def literal(text: str) -> str:
    """Text the engine's `${...}` evaluation leaves as it is: `$` is written `$$`, and `${` (which
    always opens an expression) as the expression `${"$"}` followed by `{`."""
    return _DOLLAR.sub(lambda m: '${"$"}{' if m.group(0) == "${" else "$$", text)


_DOLLAR = re.compile(r"\$\{|\$")


def child_output_param(step: str, output: str) -> str:
    """The param that holds output `output` of the child DAG run by step `step` (`${step.outputs.output}`)."""
    return f"{step}__outputs__{output}"


def fan_out_param(step: str) -> str:
    """The param that holds the aggregate JSON of fan-out step `step` (`${step.outputs...}`, its references)."""
    return re.sub(r"\W", "_", f"{step}__aggregate", flags=re.ASCII)


def fan_out_item_param(step: str, item: str) -> str:
    """The param that holds the JSON of the child run for item `item` (`item_N`) of fan-out step `step`."""
    return re.sub(r"\W", "_", f"{step}__{item}", flags=re.ASCII)


CHILD_OUTPUT_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\.outputs\.([A-Za-z_][A-Za-z0-9_]*)")
FAN_OUT_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\.outputs[.\[}]")
RUN_FILES = re.compile(r"DAG_RUN_(?:LOG|STEP_STDOUT|STEP_STDERR)_FILE")


def shell_quote(text: str) -> str:
    """Literal text as one shell word."""
    return "'" + text.replace("'", "'\\''") + "'"


def shell_double(text: str) -> str:
    """Dagu text as one shell word in which `$VAR` and backticks still work (env values, defaults)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
