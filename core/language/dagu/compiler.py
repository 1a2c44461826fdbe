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
import os
import re
import shlex
from collections.abc import Callable
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.child_output import (
    child_result,
    fan_out_result,
    fan_out_result_at_run,
    keep_task,
    workflow_outputs,
)
from digpy.core.language.dagu.common import as_text, located_map, output_name, set_located, whole_number
from digpy.core.language.dagu.container import read_container
from digpy.core.language.dagu.control import read_continue_on, read_preconditions, read_repeat, read_retry
from digpy.core.language.dagu.executor import Executor, read_executor
from digpy.core.language.dagu.items import SPLIT_ITEMS_JS, split_items
from digpy.core.language.dagu.mail import Mail, mail_step_task
from digpy.core.language.dagu.schema import DAG_KEYS, DAG_NOT_YET, STEP_KEYS, STEP_NOT_YET, normalized
from digpy.core.language.dagu.secrets import read_secrets
from digpy.core.language.dagu.settings import map_cleanup_time, map_history, map_skip_if_successful
from digpy.core.language.dagu.setup import (
    STEP_FILES,
    Prelude,
    copy_output,
    files_root,
    keep_step_files,
    param_items,
    read_env,
    read_params,
    run_files_dir,
    step_files_dir,
    write_step_files,
)
from digpy.core.language.dagu.steps import Step, read_steps, task_of
from digpy.core.language.dagu.variables import (
    REFERENCE,
    Scope,
    child_output_param,
    fan_out_item_param,
    fan_out_param,
    for_shell,
    for_value,
    literal,
    shell_double,
    shell_quote,
    step_reference_param,
)
from digpy.core.workflow.located import ConfigMap, key_location, location_of, value_location, without_keys

DEFAULT_CONCURRENCY = 10  # Dagu's default for `parallel:`
HANDLERS = ("init", "success", "failure", "exit", "cancel", "abort")  # abort: cancel's name from Dagu 1.26
HANDLERS_NOT_YET = ("wait",)
HANDLER_STEP_NAMES = {"init": "onInit", "success": "onSuccess", "failure": "onFailure", "exit": "onExit",
                      "cancel": "onCancel", "abort": "onCancel"}


# A child DAG named in `run:` → the value of `call>` (a file) or an inline config (a local DAG).
ChildResolver = Callable[[str, Location | None], "str | dict[str, Any]"]
# A child DAG (as ChildResolver gives it) → the outputs its steps keep (`output:`).
OutputsOf = Callable[["str | dict[str, Any]"], list[str]]


def _outputs_of_local(child: str | dict[str, Any]) -> list[str]:
    return workflow_outputs(child) if isinstance(child, dict) else []


def compile_dag(dag: ConfigMap, name: str, resolve_child: ChildResolver,
                outputs_of: OutputsOf = _outputs_of_local) -> ConfigMap:
    """The workflow config of one DAG (`dag` with v1 key names; `name` its name)."""
    dag = normalized(dag, f"DAG '{name}'", DAG_KEYS, DAG_NOT_YET)
    scope = Scope(dag_name=name, params=read_params(dag), env=read_env(dag.get("env"), value_location(dag, "env")))
    if dag.get("container") is not None:
        scope.container = read_container(dag["container"], value_location(dag, "container"), shared=True)
    if dag.get("maxOutputSize") is not None:
        scope.max_output_size = whole_number(dag["maxOutputSize"], "maxOutputSize", value_location(dag, "maxOutputSize"),
                                             minimum=1)
    if dag.get("shell") is not None:
        scope.shell = _shell_words(dag["shell"], dag)
    steps = read_steps(dag, scope)
    if dag.get("logDir") is not None:  # every step keeps its output in files there, and the run a log
        scope.files_root = files_root(dag["logDir"], name, value_location(dag, "logDir"))
        scope.run_files = True
    out = ConfigMap(location_of(dag))
    limit = dag.get("maxActiveSteps")
    if limit is not None:
        whole_number(limit, "maxActiveSteps", value_location(dag, "maxActiveSteps"), minimum=1)
    set_located(out, "_parallel", {"running": limit} if limit else True, dag, "steps")  # a sliding window
    _settings(dag, out)
    secrets = read_secrets(dag, scope)
    if secrets:  # every step's commands get them (and the handlers', and the children's)
        out["_export"] = {"_env": secrets}
    mail = Mail(dag, name)
    scope.smtp = mail.server  # for mail steps, handlers' too
    prelude = Prelude(dag, scope)
    sources: list[str] = []
    handlers = _handlers(dag)
    dag_conditions: list[dict[str, Any]] = []  # the DAG's preconditions, as _precondition
    if dag.get("preconditions") is not None:  # checked first: unmet, the init handler does not run either
        dag_conditions = read_preconditions(dag["preconditions"], value_location(dag, "preconditions"), scope,
                                            prelude.text(None))
        task = ConfigMap(value_location(dag, "preconditions"))
        task["sh>"] = "true"
        task["_precondition"] = dag_conditions
        out["+preconditions"] = task
        sources = ["+preconditions"]
    if "init" in handlers:
        init = _handler_task(handlers["init"], "init", scope, prelude, resolve_child, sources, "running")
        init["_continue_on"] = {k: v for k, v in init["_continue_on"].items() if k != "skipped"}
        if not init["_continue_on"]:  # skipped with the DAG's unmet preconditions
            del init["_continue_on"]
        out["+on_init"] = init
        sources = ["+on_init"]
        if init.get("_precondition") is not None:
            # its own unmet precondition skips the handler, not the steps: a task after it runs
            # (clearing the skip) unless the DAG's preconditions are unmet
            done = ConfigMap(value_location(dag, "handlerOn"))
            done["sh>"] = "true"
            done["_after"] = sources
            done["_continue_on"] = {"skipped": True}
            if dag_conditions:
                done["_precondition"] = dag_conditions
            out["+on_init_done"] = done
            sources = ["+on_init_done"]
    finish: dict[str, str] = {}  # a step's task → the task after which it is done (its outputs kept)
    for step in steps:
        args = _call_arguments(step, scope, prelude)
        task = _step_task(step, scope, prelude, resolve_child, mail=mail, outputs_of=outputs_of)
        after = [finish.get(t, t) for t in (task_of(steps, dep) for dep in step.depends)] or sources
        if args is not None:  # worked out in the parent's shell first
            if after:
                args["_after"] = after
            out[f"{step.task}__args"] = args
            after = [f"{step.task}__args"]
        if after:
            task["_after"] = after
        if "docker" in task and _keeps_files(step, task, scope):
            files = _files_task(step, scope)
            if after:
                files["_after"] = after
            out[f"{step.task}__files"] = files
            task["_after"] = [f"{step.task}__files"]
        out[step.task] = task
        finish[step.task] = _after_step(step, task, scope, resolve_child, outputs_of, out)
    all_steps = [finish.get(s.task, s.task) for s in steps] or sources
    status: str | None = "succeeded"  # the DAG_RUN_STATUS of the handlers after the steps
    if any(s.config.get("continueOn") not in (None, "skipped") for s in steps):
        # Dagu's partial success: failures that went on and some step that succeeded; went on,
        # but none succeeded: the run fails
        gate = ConfigMap(value_location(dag, "steps"))
        gate["_after"] = all_steps
        gate["_outcome"] = {"of": [s.task for s in steps], "as": "DAG_RUN_STATUS"}
        gate["_continue_on"] = {"skipped": True}
        gate["sh>"] = ('if [ "$DAG_RUN_STATUS" = failed ]; then echo "steps failed under continueOn and none'
                       ' succeeded: the run fails (as in Dagu)" >&2; exit 1; fi; printf %s "$DAG_RUN_STATUS"')
        gate["output"] = "DAG_RUN_STATUS"
        gate["print_output"] = False
        out["+steps_done"] = gate
        all_steps, status = ["+steps_done"], None
    if "success" in handlers:
        task = _handler_task(handlers["success"], "success", scope, prelude, resolve_child, all_steps, status)
        if dag_conditions:  # an unmet DAG precondition: no success (Dagu: aborted)
            task["_precondition"] = [*dag_conditions, *task.get("_precondition", [])]
        out["+on_success"] = task
    if mail.on_success:  # mailOn.success: infoMail once the steps (and the success handler) are done
        out["+mail_on_success"] = {**mail.success_task(), "_continue_on": {"skipped": True},
                                   "_after": ["+on_success"] if "success" in handlers else all_steps}
    if "exit" in handlers:
        out["+on_exit"] = _handler_task(handlers["exit"], "exit", scope, prelude, resolve_child,
                                        ["+on_success"] if "success" in handlers else all_steps, status)
    if "failure" in handlers or "exit" in handlers or mail.on_failure:
        error = ConfigMap(value_location(dag, "handlerOn") or mail.location)
        if "failure" in handlers:
            error["+on_failure"] = _handler_task(handlers["failure"], "failure", scope, prelude, resolve_child, [],
                                                 "failed")
        if mail.on_failure:  # mailOn.failure: errorMail
            error["+mail_on_failure"] = mail.failure_task()
        if "exit" in handlers:
            error["+on_exit"] = _handler_task(handlers["exit"], "exit", scope, prelude, resolve_child, [], "failed")
        out["_error"] = error
    cancel = handlers.get("abort") or handlers.get("cancel")
    if cancel is not None or "exit" in handlers:  # the attempt is killed: `_cancel`, then exit
        aborted = ConfigMap(value_location(dag, "handlerOn"))
        if cancel is not None:
            aborted["+on_cancel"] = _handler_task(cancel, "cancel", scope, prelude, resolve_child, [], "aborted")
        if "exit" in handlers:
            aborted["+on_exit"] = _handler_task(handlers["exit"], "exit", scope, prelude, resolve_child, [],
                                                "aborted")
        out["_cancel"] = aborted
    map_cleanup_time(dag, out)
    return out


def _after_step(step: Step, task: ConfigMap, scope: Scope, resolve_child: ChildResolver, outputs_of: OutputsOf,
                out: ConfigMap) -> str:
    """The tasks after a step that keep what later steps read of it (a child DAG's outputs, its
    `output:`, a fan-out's aggregate, its references); the name of the last (the step's if none)."""
    last = step.task
    config = step.config
    ident = config.get("id")
    kinds = _references_of(step, scope)
    fan_out = config.get("parallel") is not None and isinstance(config.get("run"), str)
    outputs = sorted(scope.child_outputs.get(step.name, ()))
    if outputs and not fan_out:
        # a task after the child DAG keeps the outputs read as ${STEP.outputs.NAME} under names of
        # this step's own (the child's plain names are overwritten by a later child's)
        keep = ConfigMap(step.location)
        keep["_after"] = [last]
        for name in outputs:
            keep[f"+{name}"] = {"sh>": f'printf "%s" "$${name}"', "output": child_output_param(step.name, name)}
        last = f"{step.task}__outputs"
        out[last] = keep
    failed = None
    if isinstance(config.get("run"), str) and not fan_out and (config.get("output") is not None or kinds):
        failed = fan_out_item_param(step.name, "failed")  # set by its _error: the child DAG failed
        _on_error(task, "+failed", keep_task("1", failed))
    if "http>" in task and kinds and config.get("output") is not None:  # the body is kept under a name of its own
        copy = keep_task("${" + str(task["output"]) + "}", output_name(config["output"], value_location(config, "output")),
                         [last])
        last = f"{step.task}__output"
        out[last] = copy
    kept: dict[str, str] = {}  # the name of the task after the step → the param it keeps
    if config.get("output") is not None and isinstance(config.get("run"), str):
        kept["__output"] = output_name(config["output"], value_location(config, "output"))
    if fan_out and (step.name in scope.fan_out_reads or kinds):
        kept["__aggregate"] = fan_out_param(step.name)
    for suffix, name in kept.items():
        value = _child_json(step, scope, resolve_child, outputs_of, failed)
        if fan_out:  # a child failed: the fan-out fails once all are done, its aggregate kept for the handlers
            _on_error(task, "+" + suffix.strip("_"), keep_task(value, name))
        out[f"{step.task}{suffix}"] = keep_task(value, name, [last])
        last = f"{step.task}{suffix}"
    if kinds:
        last = _keep_references(step, scope, str(ident), kinds, task, out, last, failed,
                                lambda: _child_json(step, scope, resolve_child, outputs_of, failed))
    return last


def _references_of(step: Step, scope: Scope) -> list[str]:
    """What later steps read of `step` by its id: stdout, stderr, exitCode (sorted), or nothing."""
    ident = step.config.get("id")
    return sorted(scope.references.get(ident, ())) if isinstance(ident, str) else []


def _keeps_files(step: Step, task: ConfigMap, scope: Scope, status: str | None = None) -> bool:
    """Whether a shell step keeps copies of its output in files: it is referenced, or the DAG names
    DAG_RUN_STEP_STDOUT_FILE... (not a handler in a container: no task before it makes the directory)."""
    return "setup" in task and (bool(_references_of(step, scope)) or scope.run_files) and \
        (status is None or "docker" not in task)


def _files_task(step: Step, scope: Scope) -> dict[str, Any]:
    """The task before a step in a container that keeps files: it makes the run's directory on the host."""
    run = run_files_dir(scope.files_root)
    return {"sh>": "mkdir -p " + run + " && printf " + literal('"%s" ') + run,
            "output": fan_out_item_param(step.name, "files"), "print_output": False}


def _on_error(task: ConfigMap, name: str, sub: dict[str, Any]) -> None:
    """Add `sub` to the tasks of the step's `_error` (which may hold one task already: mailOnError)."""
    current = task.get("_error")
    if current is None:
        task["_error"] = {name: sub}
    elif any(isinstance(k, str) and k.startswith("+") for k in current):
        current[name] = sub
    else:
        task["_error"] = {"+mail": current, name: sub}


def _child_json(step: Step, scope: Scope, resolve_child: ChildResolver, outputs_of: OutputsOf,
                failed: str | None) -> str:
    """A template that gives the JSON of a step that runs a child DAG (Dagu's `output:` of it): the
    child's run, or a fan-out's aggregate."""
    config = step.config
    child = config["run"].strip()
    if config.get("parallel") is not None:
        items, _ = _parallel(config["parallel"], value_location(config, "parallel"), scope)
        if isinstance(items, str):  # over a variable: the items were kept when it ran
            return fan_out_result_at_run(fan_out_item_param(step.name, "items"),
                                         fan_out_item_param(step.name, "item_"), _child_name(child),
                                         _item_params_parts(config))
        return fan_out_result([(fan_out_item_param(step.name, key), _child_name(child), params)
                               for key, params in _fan_out_items(step, scope)])
    text = config.get("params")
    params = text if isinstance(text, str) else " ".join(
        f"{k}={v}" for k, v in _child_params(text, value_location(config, "params")).items())
    return child_result(_child_name(child), params, outputs_of(resolve_child(child, value_location(config, "run"))),
                        True, failed=failed)


def _child_name(target: str) -> str:
    return target.rsplit("/", 1)[-1].rsplit(".", 1)[0] if target.endswith((".yaml", ".yml", ".dig")) else target


def _keep_references(step: Step, scope: Scope, ident: str, kinds: list[str], task: ConfigMap, out: ConfigMap, after: str,
                     failed: str | None, child_json: Callable[[], str]) -> str:
    """A step read by `${ID.stdout}`, `${ID.stderr}` or `${ID.exitCode}`: its stdout, stderr and exit
    code are kept in files of a directory of its own (a shell step writes them as it runs; for a
    step that runs a child DAG, a task after it writes the child's JSON, as Dagu's log of such a
    step holds it), and a task after it keeps what is read as params (the paths, as in Dagu, and
    the code). The name of the task after it."""
    keep = ConfigMap(step.location)
    keep["_after"] = [after]
    here = 'task_name.slice(0, task_name.lastIndexOf("__refs+"))'  # this task's name → the step's
    if isinstance(step.config.get("run"), str):
        if step.config.get("parallel") is not None:
            kept = fan_out_param(step.name)  # (none when the step was skipped: so is this task)
            code = "${typeof " + kept + ' === "undefined" || JSON.parse(' + kept + ").summary.failed > 0 ? 1 : 0}"
        else:
            code = "${typeof " + str(failed) + ' === "undefined" ? 0 : 1}'
        keep["+write"] = {"sh>": write_step_files(step_files_dir(here, root=scope.files_root), code), "DIGPY_VALUE": child_json()}
    elif "http>" in task:  # its body (nothing when it failed) and 1 when it failed
        body = str(task["output"])
        keep["+write"] = {"sh>": write_step_files(step_files_dir(here, root=scope.files_root),
                                                  "${typeof " + body + ' === "undefined" ? 1 : 0}'),
                          "DIGPY_VALUE": "${typeof " + body + ' === "undefined" ? "" : ' + body + "}"}
    elif "setup" not in task:
        raise ConfigError(f"${{{ident}.{kinds[0]}}}: references to a {next(k for k in task if k.endswith('>'))} "
                          "step are not supported yet by digpy",
                          location=key_location(step.config, "id") or step.location,
                          hint="print what you need and keep it with output: NAME")
    for kind in kinds:
        files = step_files_dir(here, root=scope.files_root)
        reader = f'printf "%s" {files}/{STEP_FILES[kind]}' if kind != "exitCode" else f"cat {files}/{STEP_FILES[kind]}"
        keep[f"+{kind}"] = {"sh>": reader, "output": step_reference_param(ident, "." + kind),
                            "print_output": False}
    name = f"{step.task}__refs"
    out[name] = keep
    return name


# ---------------------------------------------------------------- DAG settings

def _settings(dag: ConfigMap, out: ConfigMap) -> None:
    schedule = dag.get("schedule")
    loc = value_location(dag, "schedule")
    if schedule is not None:
        crons = schedule if isinstance(schedule, list) else [schedule]
        if isinstance(schedule, dict):
            raise ConfigError("schedule with start/stop/restart is not supported yet by digpy", location=loc,
                              hint="write a cron expression such as \"0 7 * * *\"")
        if not crons:
            raise ConfigError("schedule must be a cron expression or a list of them", location=loc)
        zones: set[str | None] = set()
        texts: list[str] = []
        for cron in crons:
            if not isinstance(cron, str):
                raise ConfigError("schedule must be a cron expression such as \"0 7 * * *\"", location=loc)
            zone: str | None = None
            cron = cron.strip()
            if cron.startswith("CRON_TZ="):
                zone, _, cron = cron[len("CRON_TZ="):].partition(" ")
            zones.add(zone)
            texts.append(cron.strip())
        if len(zones) > 1:
            raise ConfigError("schedules in different CRON_TZ zones are not supported yet by digpy", location=loc,
                              hint="give every cron expression of the list the same CRON_TZ, or split the DAG")
        zone = zones.pop()
        if zone is not None:
            set_located(out, "timezone", zone, dag, "schedule")
        set_located(out, "schedule", located_map({"cron>": texts[0] if len(texts) == 1 else texts}, loc), dag,
                    "schedule")
    map_skip_if_successful(dag, out)
    map_history(dag, out)
    runs = dag.get("maxActiveRuns", 1)  # Dagu's default: one run at a time, the others wait
    if runs != -1:  # -1: never queue
        set_located(out, "max_active_attempts", whole_number(runs, "maxActiveRuns", value_location(dag, "maxActiveRuns"),
                                                             minimum=1), dag, "maxActiveRuns")
    if dag.get("queue") is not None:
        set_located(out, "queue", dag["queue"], dag, "queue")
    if dag.get("timeoutSec") is not None:  # the running steps are killed and the run fails
        seconds = whole_number(dag["timeoutSec"], "timeoutSec", value_location(dag, "timeoutSec"), minimum=1)
        set_located(out, "_timeout", seconds, dag, "timeoutSec")
    if dag.get("delaySec") is not None:  # Dagu waits this long after starting a step before the next start
        seconds = whole_number(dag["delaySec"], "delaySec", value_location(dag, "delaySec"), minimum=0)
        if seconds:
            set_located(out, "_start_interval", seconds, dag, "delaySec")
    for key in ("description", "group"):
        if key in dag and not isinstance(dag[key], str):
            raise ConfigError(f"{key} must be a text", location=value_location(dag, key))
    tags = dag.get("tags")
    if tags is not None and not isinstance(tags, str | list):
        raise ConfigError("tags must be a list of words or a comma-separated text", location=value_location(dag, "tags"))
    if dag.get("type", "chain") not in ("chain", "graph"):
        raise ConfigError(f"type must be chain or graph, not {dag['type']!r}", location=value_location(dag, "type"),
                          hint="chain: each step after the one before (the default); graph: only depends")


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
                              hint="use exit (always runs), failure or cancel")
        if kind not in HANDLERS:
            from digpy.core.workflow.tree import did_you_mean

            raise ConfigError(f"handlerOn: unknown handler '{kind}'", location=where,
                              hint=did_you_mean(kind, HANDLERS) or "handlers: " + ", ".join(HANDLERS))
        if kind in ("cancel", "abort") and ("cancel" if kind == "abort" else "abort") in value:
            raise ConfigError("handlerOn has both cancel and abort (two names of one handler)", location=where)
        if isinstance(handler, str):
            handler = located_map({"command": handler}, value_location(value, kind))
        out[kind] = normalized(handler, f"handlerOn.{kind}", STEP_KEYS, STEP_NOT_YET, value_location(value, kind))
    return out


# ---------------------------------------------------------------- steps


def _step_task(step: Step, scope: Scope, prelude: Prelude, resolve_child: ChildResolver,
               status: str | None = None, *, mail: Mail | None = None,
               outputs_of: OutputsOf = _outputs_of_local) -> ConfigMap:
    config = step.config
    task = ConfigMap(step.location)
    env = read_env(config.get("env"), value_location(config, "env"))
    executor = _executor(config, scope)
    if executor.kind == "dag":  # Dagu <= 1.16: `executor: dag` with the child DAG in `command`
        if config.get("command") is None or config.get("run") is not None:
            raise ConfigError(f"step '{step.name}': the dag executor names the child DAG in command",
                              location=key_location(config, "command") or step.location)
        config = ConfigMap(config.loc)
        for key, value in step.config.items():
            set_located(config, "run" if key == "command" else key, value, step.config, key)
        step = Step(step.name, step.task, config, step.location)
    if config.get("run") is not None:
        _child_task(step, scope, resolve_child, task, outputs_of)
    elif executor.kind == "http":
        _http_task(step, scope, executor.http or {}, task)
    elif executor.kind == "jq":
        _jq_task(step, scope, executor.raw, task)
    elif executor.kind == "mail":
        for key in ("command", "script", "shell", "stdout", "stderr", "output"):
            if config.get(key) is not None:
                raise ConfigError(f"step '{step.name}' uses the mail executor and can't have {key}",
                                  location=key_location(config, key))
        where = value_location(config, "executor") or value_location(config, "type") or step.location
        task.update(mail_step_task(step.name, executor.mail or {}, scope, where))
    else:
        workdir = executor.workdir
        if executor.kind == "docker":
            env = {**(executor.env or {}), **env}
            if workdir is None and executor.docker and (executor.docker.get("shared") or "container" in executor.docker):
                workdir = "."  # the DAG's (or step's) workingDir is a path on the host, not in the container
        _shell_task(step, scope, prelude, env, status, task, workdir=workdir,
                    shell=scope.shell if executor.kind == "shell" else None, default_shell=executor.kind == "shell")
        if executor.docker is not None:
            task["docker"] = executor.docker
        if _keeps_files(step, task, scope, status):
            # copies of its stdout and stderr, and its exit code, in files of its own (Dagu's log
            # files: ${ID.stdout}..., DAG_RUN_STEP_STDOUT_FILE...); in a container, the run's
            # directory (made on the host by the task before it) is mounted at its own path
            base = None
            if "docker" in task:
                base = "$" + fan_out_item_param(step.name, "files")
                mount = "${" + base[1:] + "}:${" + base[1:] + "}"
                task["docker"] = {**task["docker"], "volumes": [*task["docker"].get("volumes", []), mount]}
            task["setup"] = keep_step_files(step_files_dir("task_name", base, scope.files_root),
                                            step.name if scope.run_files else None, base, scope.files_root) + task["setup"]
    if executor.kind == "http" and _references_of(step, scope):  # its body kept for ${ID.stdout}
        task["output"] = fan_out_item_param(step.name, "body")
    if config.get("output") is not None and scope.max_output_size is not None and config.get("run") is None:
        task["max_output_size"] = scope.max_output_size
    if config.get("output") is not None and config.get("run") is None and "output" not in task:  # (child: _after_step)
        set_located(task, "output", output_name(config["output"], value_location(config, "output")), config, "output")
    if config.get("preconditions") is not None:
        pre_prelude = prelude.text(step, env, config.get("workingDir"), status,
                                   value_location(config, "workingDir"))
        conditions = read_preconditions(config["preconditions"], value_location(config, "preconditions"), scope,
                                        pre_prelude)
        if any(key.startswith("+") for key in task):  # a child DAG run inline, or a fan-out: a group
            _precondition_first(task, conditions, value_location(config, "preconditions"))
        else:
            set_located(task, "_precondition", conditions, config, "preconditions")
    if config.get("mailOnError") is not None:
        if not isinstance(config["mailOnError"], bool):
            raise ConfigError("mailOnError must be true or false", location=value_location(config, "mailOnError"))
        if config["mailOnError"]:
            if mail is None or mail.error is None:
                raise ConfigError("mailOnError needs the DAG's errorMail (from, to)",
                                  location=key_location(config, "mailOnError"))
            set_located(task, "_error", mail.failure_task(step.name), config, "mailOnError")
    if config.get("repeatPolicy") is not None:
        set_located(task, "_repeat", read_repeat(config["repeatPolicy"], value_location(config, "repeatPolicy"), scope,
                                                 prelude.text(step, env, config.get("workingDir"), status,
                                                              value_location(config, "workingDir"))),
                    config, "repeatPolicy")
    if config.get("continueOn") is not None:
        set_located(task, "_continue_on", read_continue_on(config["continueOn"], value_location(config, "continueOn")),
             config, "continueOn")
        if task["_continue_on"].get("if_skipped") and "+precondition" in task:
            # a child DAG skipped by its preconditions: a last task ends the skip for the steps after it
            task["+precondition_passed"] = {"sh>": "true", "_continue_on": {"skipped": True},
                                            "_after": [k for k in task if k.startswith("+")]}
    if config.get("retryPolicy") is not None:
        set_located(task, "_retry", read_retry(config["retryPolicy"], value_location(config, "retryPolicy")), config,
             "retryPolicy")
    if config.get("timeoutSec") is not None:
        seconds = whole_number(config["timeoutSec"], "timeoutSec", value_location(config, "timeoutSec"), minimum=1)
        set_located(task, "_timeout", seconds, config, "timeoutSec")
    if config.get("signalOnStop") is not None:
        if config.get("run") is not None:
            raise ConfigError("signalOnStop on a step that runs a child DAG is not supported yet by digpy",
                              location=key_location(config, "signalOnStop"), hint="give it to the child's steps")
        set_located(task, "_stop_signal", config["signalOnStop"], config, "signalOnStop")
    return task


def _precondition_first(group: ConfigMap, conditions: list[dict[str, Any]], loc: Location | None) -> None:
    """A group (a `_parallel` one: an inline child DAG or a fan-out) whose step has preconditions: a
    first task checks them, and every task of the group starts after it, so an unmet one skips them all."""
    first = ConfigMap(loc)
    first["sh>"] = "true"
    first["_precondition"] = conditions
    items = list(group.items())
    for key, _ in items:
        del group[key]
    group["+precondition"] = first
    for key, value in items:
        if key.startswith("+") and isinstance(value, dict) and value.get("_after") is None:
            value = without_keys(value, ())  # a copy: an inline child's tasks are shared by its runs
            value["_after"] = ["+precondition"]
        group[key] = value


def _executor(config: ConfigMap, scope: Scope) -> Executor:
    """A step's executor: its own, its `container:`, or the DAG's container for a step with neither."""
    if config.get("container") is not None:
        for key in ("executor", "type"):
            if config.get(key) is not None:
                raise ConfigError(f"a step with a container has no {key} (it runs in its container)",
                                  location=key_location(config, key))
        return read_container(config["container"], value_location(config, "container"), shared=False)
    if scope.container is not None and config.get("executor") is None and config.get("type") is None:
        return scope.container  # type: ignore[no-any-return]
    return read_executor(config)


def _shell_task(step: Step, scope: Scope, prelude: Prelude, env: dict[str, str], status: str | None,
                task: ConfigMap, workdir: str | None = None, shell: list[str] | None = None,
                default_shell: bool = False) -> None:
    """A step run by `sh>`; `shell`: the DAG's, for a step that does not give its own; `default_shell`:
    without either, the shell is Dagu's default (a shell step, not a container's)."""
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
    if command is None and script is None:
        raise ConfigError(f"step '{step.name}' has nothing to run", location=loc,
                          hint="give it a command, a script, or run: a child DAG")
    shell_words = shell if config.get("shell") is None else _shell_words(config["shell"], config)
    head = prelude.text(step, env, workdir if workdir is not None else config.get("workingDir"), status,
                        value_location(config, "workingDir"))
    for stream in ("stdout", "stderr"):
        if config.get(stream) is not None:
            head += copy_output(stream, config[stream], scope, value_location(config, stream))
    if script is not None and not isinstance(script, str):
        raise ConfigError("script must be a text", location=value_location(config, "script"))
    runner = _runner(config, script, command, shell_words)
    if runner is not None:  # the prelude in sh, then the script (or command) by its own interpreter
        words, text, as_file = runner
        if script is not None and command is not None:  # `command: $PYTHON`: the command's words expanded
            program = " ".join(for_shell(shell_double(w), scope, value_location(config, "command")) for w in words)
        else:
            program = literal(" ".join(w if re.fullmatch(r"[\w./=:-]+", w) else shell_quote(w) for w in words))
        writer, task["sh>"] = _run_by(program, text, as_file,
                                      for_shell(text, scope, value_location(config, "script" if script else "command")))
        task["setup"] = head + writer
        where = key_location(config, "script" if script is not None else "command") or loc
        if where is not None:
            task.key_locs["sh>"] = task.value_locs["sh>"] = where
        return
    if script is not None:
        body = for_shell(script, scope, value_location(config, "script"))
    else:
        commands = command if isinstance(command, list) else [command]
        if not commands or not all(isinstance(c, str | int | float) and not isinstance(c, bool) for c in commands):
            raise ConfigError("command must be a text or a list of texts", location=value_location(config, "command"))
        # Dagu v1.29+: a list is several commands run in turn (the first failure stops the step)
        body = "\n".join(for_shell(str(c), scope, value_location(config, "command")) +
                         (" || exit $$?" if len(commands) > 1 else "") for c in commands)
    task["sh>"] = body
    if default_shell and config.get("shell") is None and "-e" not in (shell_words or []) and \
            os.path.basename((shell_words or ["sh"])[0]) in _POSIX_SHELLS:
        head += "set -e\n"  # Dagu runs the DAG's or the default shell with -e (a step's own shell: as given)
    task["setup"] = head
    where = key_location(config, "script" if script is not None else "command") or loc
    if where is not None:
        task.key_locs["sh>"] = task.value_locs["sh>"] = where
    if shell_words:
        task["shell"] = shell_words
    elif default_shell:  # Dagu's default: $DAGU_DEFAULT_SHELL, else $SHELL, where the step runs
        task["shell_from_env"] = ["DAGU_DEFAULT_SHELL", "SHELL"]


_POSIX_SHELLS = ("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh")


def _runner(config: ConfigMap, script: str | None, command: Any,
            shell_words: list[str] | None) -> tuple[list[str], str, bool] | None:
    """The interpreter of a step that is no shell script, the text it runs, and whether as a file
    (else after -c); None for a shell script. Dagu runs a script by `command` (`command: python3`),
    by its shebang line when the step gives no shell of its own (`#!/usr/bin/env python3`, `#!env
    perl`), or by a `shell` that is no POSIX shell (`shell: python3`)."""
    if script is not None and command is not None:
        words = command if isinstance(command, list) else shlex.split(str(command))
        return [str(w) for w in words], script, True
    text = script if script is not None else command.strip() if isinstance(command, str) and \
        "\n" in command.strip() else None  # a command of several lines is a script (Dagu)
    if text is not None and config.get("shell") is None and text.startswith("#!"):
        try:
            words = shlex.split(text[2:].split("\n", 1)[0])
        except ValueError as e:
            raise ConfigError(f"the script's first line (#!): {e}",
                              location=value_location(config, "script" if script is not None else "command")) from None
        if words:
            return words, text, True
    if shell_words and os.path.basename(shell_words[0]) not in _POSIX_SHELLS and isinstance(text or command, str):
        words = shell_words[:-1] if len(shell_words) > 1 and shell_words[-1] == "-c" else shell_words
        return words, str(text or command), text is not None
    return None


def _run_by(program: str, text: str, as_file: bool, filled: str) -> tuple[str, str]:
    """Shell lines (setup, command) that run `text` by `program` (its words as template text): as a temporary file
    (written by a quoted here-document, removed after, the exit code kept; `filled`: the text with
    the references only an expression can read, `${id.stdout}`..., as Dagu fills them in) or after `-c`."""
    if not as_file:
        return "", program + literal(f" -c {shell_quote(text)}")
    end, n = "DIGPY_SCRIPT", 0
    while end in text.splitlines():
        n += 1
        end = f"DIGPY_SCRIPT_{n}"
    writer = literal(f'_digpy_script=$(mktemp) || exit 1\ncat > "$_digpy_script" <<\'{end}\'\n') + filled + \
        literal(("" if text.endswith("\n") else "\n") + f'{end}\n_digpy_run() {{ "$@" "$_digpy_script"; set -- $?; '
                'rm -f "$_digpy_script"; return $1; }\n')
    return writer, literal("_digpy_run ") + program


def _shell_words(shell: Any, config: ConfigMap) -> list[str]:
    """A `shell` (`bash`, `"bash -e"` or a list) → the words of sh>'s `shell`."""
    if not isinstance(shell, str | list) or not shell:
        raise ConfigError("shell must be a command such as bash", location=value_location(config, "shell"))
    return shlex.split(shell) if isinstance(shell, str) else [str(w) for w in shell]


def _http_task(step: Step, scope: Scope, config: dict[str, Any], task: ConfigMap) -> None:
    """Dagu's http executor: `command: "METHOD URL"` and its config → `http>`."""
    command = step.config.get("command")
    loc = value_location(step.config, "command") or step.location
    words = command.split(None, 1) if isinstance(command, str) else []
    if len(words) != 2 or not words[0].isalpha():
        raise ConfigError(f"step '{step.name}': the http executor's command is \"METHOD URL\"", location=loc,
                          hint='write command: "GET https://example.com/api"')
    for key in ("script", "shell", "stdout", "stderr"):
        if step.config.get(key) is not None:
            raise ConfigError(f"step '{step.name}' uses the http executor and can't have {key}",
                              location=key_location(step.config, key))
    where = value_location(step.config, "executor") or value_location(step.config, "type") or loc
    task["http>"] = for_value(words[1].strip(), scope, loc)
    task["method"] = words[0].upper()
    task["retry"] = False  # Dagu sends once (retryPolicy retries the step)
    task["print_content"] = True
    for key in ("headers", "query"):
        value = config.get(key)
        if value is not None:
            if not isinstance(value, dict):
                raise ConfigError(f"the http executor's {key} must be a mapping", location=where)
            task[key] = {str(k): for_value(as_text(v), scope, where) for k, v in value.items()}
    if config.get("body") is not None:
        task["content"] = for_value(as_text(config["body"]), scope, where)
        task["content_format"] = "text"
    if config.get("timeout") is not None:
        task["timeout"] = whole_number(config["timeout"], "the http executor's timeout", where, minimum=1)


def _jq_task(step: Step, scope: Scope, raw: bool, task: ConfigMap) -> None:
    """Dagu's jq executor: the filter in `command`, the JSON in `script` → `jq>`."""
    config = step.config
    for key in ("shell", "stdout", "stderr", "workingDir"):
        if config.get(key) is not None:
            raise ConfigError(f"step '{step.name}' uses the jq executor and can't have {key}",
                              location=key_location(config, key))
    command, script = config.get("command"), config.get("script")
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"step '{step.name}': the jq executor's command is a jq filter", location=step.location,
                          hint="write command: '.items[]' and the JSON in script")
    if not isinstance(script, str):
        raise ConfigError(f"step '{step.name}': the jq executor reads the JSON in script",
                          location=key_location(config, "script") or step.location)
    if "$" not in command:  # a filter without variables is checked when the file is loaded
        import jq

        try:
            jq.compile(command)
        except ValueError as e:
            raise ConfigError(f"step '{step.name}': the jq filter {command!r} does not compile: "
                              f"{(str(e).strip().splitlines() or ['error'])[0]}",
                              location=value_location(config, "command")) from None
    task["jq>"] = for_value(command, scope, value_location(config, "command"))
    task["input"] = for_value(script, scope, value_location(config, "script"))
    if raw:
        task["raw"] = True


ITEM_MARK = "@@digpy-item@@"  # ${ITEM} in a value worked out before the fan-out knows its items


def _call_arguments(step: Step, scope: Scope, prelude: Prelude) -> ConfigMap | None:
    """The task that works out, in the parent's shell, the child params of a `run:` step that name
    themselves (`params: "DAY=$DAY"`, the usual way to pass a param on): as an export, such a
    value would read the child's own param instead of the parent's. Each value is kept as a param
    `STEP__arg__NAME` that the step's exports read (scope.call_args)."""
    config = step.config
    if config.get("run") is None or config.get("params") is None:
        return None
    params = _child_params(config["params"], value_location(config, "params"))
    loc = value_location(config, "params")
    named = [k for k, v in params.items() if k != "ITEM" and any(
        (m.group(1) or m.group(3)) in params for m in REFERENCE.finditer(v))]
    if not named:
        return None
    group = ConfigMap(loc)
    group["_parallel"] = True
    setup = prelude.text(None) + (f"export ITEM='{ITEM_MARK}'\n" if config.get("parallel") is not None else "")
    names: dict[str, str] = {}
    for key in named:
        names[key] = re.sub(r"\W", "_", f"{step.task[1:]}__arg__{key}")
        group[f"+{key}"] = {"sh>": "printf '%s' " + for_shell(shell_double(params[key]), scope, loc), "setup": setup,
                            "output": names[key], "print_output": False}
    scope.call_args[step.name] = names
    return group


def _argument(step: Step, key: str, value: str, scope: Scope, loc: Location | None, item: str | None = None) -> str:
    """A child param of a `run:` step as the child's export: worked out by _call_arguments when it
    names the step's own params, else as an expression; `item`: the fan-out item's text, or ITEM
    (a fan-out over a variable) when None inside one."""
    name = scope.call_args.get(step.name, {}).get(key)
    if name is None:
        text = for_value(value, scope, loc)
        return text if item is None else text.replace("${ITEM}", literal(item))
    if not scope.items:
        return "${" + name + "}"
    join = json.dumps(item) if item is not None else "ITEM"
    return "${" + f"{name}.split({json.dumps(ITEM_MARK)}).join({join})" + "}"


def _child_task(step: Step, scope: Scope, resolve_child: ChildResolver, task: ConfigMap,
                outputs_of: OutputsOf) -> None:
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
        _call(task, resolve_child(target.strip(), loc), {k: _argument(step, k, v, scope, loc) for k, v in params.items()})
        return
    items, limit = _parallel(parallel, value_location(config, "parallel"), scope)
    task["_parallel"] = {"running": limit}  # Dagu's maxConcurrent is a sliding window too
    inner = Scope(**{**scope.__dict__, "items": True})
    child = resolve_child(target.strip(), loc)
    if isinstance(items, str):  # a variable: its items are known when the step runs (for_each>)
        body = ConfigMap(loc)
        _call(body, child, {k: _argument(step, k, v, inner, loc) for k, v in params.items()} if params else
              {"1": "${ITEM}"})  # without params, the item is the child's $1
        listed = "${" + SPLIT_ITEMS_JS + "(" + items + ")}"
        if not _keeps_items(step, scope):
            task["for_each>"] = {"ITEM": listed}
            task["_do"] = body
            return
        # the items are kept first (the aggregate reads them: a child's output may have the name of
        # the variable), and each child's JSON under a name of its item's position
        kept = fan_out_item_param(step.name, "items")
        run, body = body, ConfigMap(loc)
        body["+run"] = run
        at = "${" + json.dumps(fan_out_item_param(step.name, "item_")) + " + JSON.parse(" + kept + ").indexOf(ITEM)}"
        body["+output"] = keep_task(child_result(_child_name(target.strip()), "", outputs_of(child), False,
                                                params_js=json.dumps(_item_params_parts(config)) + ".join(ITEM)"), at)
        task["_parallel"] = True  # (its tasks by _after: preconditions add a first task to them)
        task["+items"] = keep_task(listed, kept)
        # (none kept: +items was skipped, and so is +each)
        task["+each"] = {"for_each>": {"ITEM": "${typeof " + kept + ' === "undefined" ? "[]" : ' + kept + "}"},
                         "_do": body, "_parallel": {"running": limit}, "_after": ["+items"]}
        return
    seen: set[str] = set()
    for pos, item in enumerate(items):
        text = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
        if text in seen:  # Dagu merges duplicate items into one child run
            continue
        seen.add(text)
        if params:
            exported = {k: _argument(step, k, v, inner, loc, text) for k, v in params.items()}
            exported["ITEM"] = literal(text)
        elif isinstance(item, dict):  # a map item without params: its keys are the params
            exported = {str(k): literal(as_text(v)) for k, v in item.items()}
        else:  # the item is the child's params, as Dagu passes it: `a b` is $1 $2, `K=V` a named one
            exported = {k: literal(v) for k, v in _child_params(text, loc).items()}
        sub = ConfigMap(loc)
        _call(sub, child, exported)
        if _keeps_items(step, scope):  # the child's JSON kept under a name of the item's own
            names = outputs_of(child)
            run, sub = sub, ConfigMap(loc)
            sub["+run"] = run
            sub["+output"] = keep_task(child_result(_child_name(target.strip()), _item_params(config, text), names,
                                                    False), fan_out_item_param(step.name, f"item_{pos}"))
        task[f"+item_{pos}"] = sub


def _item_params(config: ConfigMap, item: str) -> str:
    """A fan-out child's params as text (Dagu's `params` of a result): as written, the item filled in."""
    value = config.get("params")
    if value is None:
        return item
    text = value if isinstance(value, str) else " ".join(
        f"{k}={v}" for k, v in _child_params(value, value_location(config, "params")).items())
    return text.replace("${ITEM}", item).replace("$ITEM", item)


def _keeps_items(step: Step, scope: Scope) -> bool:
    """Whether a fan-out keeps each child's JSON: its aggregate is read (`output:`, `${STEP.outputs...}`,
    a reference to it)."""
    ident = step.config.get("id")
    return step.config.get("output") is not None or step.name in scope.fan_out_reads or \
        (isinstance(ident, str) and bool(scope.references.get(ident)))


def _item_params_parts(config: ConfigMap) -> list[str]:
    """A fan-out child's params as text (as `_item_params` gives them), cut where the item goes."""
    marker = "\0"
    return _item_params(config, marker).split(marker)


def _fan_out_items(step: Step, scope: Scope) -> list[tuple[str, str]]:
    """The items of a fan-out over a list: (their task's name without +, their params as text), in order."""
    items, _ = _parallel(step.config["parallel"], value_location(step.config, "parallel"), scope)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for pos, item in enumerate(items):
        text = item if isinstance(item, str) else json.dumps(item, separators=(",", ":"))
        if text not in seen:
            seen.add(text)
            out.append((f"item_{pos}", _item_params(step.config, text)))
    return out


# A variable's items (Dagu): a JSON array, one JSON value, or words split at newlines, commas,
# semicolons, pipes, tabs and spaces; map items are passed on as compact JSON.


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
    for pos, (key, default) in enumerate(param_items(value, loc), start=1):
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
        limit = whole_number(value.get("maxConcurrent", value.get("max_concurrent", DEFAULT_CONCURRENCY)),
                       "parallel maxConcurrent", loc, minimum=1)
        value = value["items"]
    if isinstance(value, str):
        reference = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", value.strip())
        name = reference.group(1) if reference is not None else None
        if name is not None and name in scope.env and name not in scope.params:  # the DAG's env
            if any(c in scope.env[name] for c in "$`"):
                raise ConfigError(f"parallel: {value} is an env entry worked out when the DAG runs; not supported "
                                  "yet by digpy", location=loc, hint="write its items as they are, or make it a param")
            value, name = split_items(scope.env[name]), None
        if name is not None:
            if name not in scope.outputs and name not in scope.params:
                raise ConfigError(f"parallel: {value} is neither a param, an env entry nor the output of a step",
                                  location=loc, hint="name a param or an output (output: NAME) of an earlier step")
            return name, limit
        if isinstance(value, str):
            value = split_items(value)
    if not isinstance(value, list):
        raise ConfigError("parallel must be a list of items, a variable, or {items, maxConcurrent}", location=loc)
    if not value:
        raise ConfigError("parallel has no items (Dagu refuses zero items too)", location=loc)
    return list(value), limit


# ---------------------------------------------------------------- handlers

def _handler_task(handler: ConfigMap, kind: str, scope: Scope, prelude: Prelude, resolve_child: ChildResolver,
                  after: list[str], status: str | None) -> ConfigMap:
    if handler.get("depends") is not None:
        raise ConfigError(f"handlerOn.{kind} can't have depends", location=key_location(handler, "depends"))
    # Dagu names a handler's step after its kind (DAG_RUN_STEP_NAME), whatever its `name:` says
    step = Step(HANDLER_STEP_NAMES[kind], f"+on_{kind}", handler, location_of(handler))
    task = _step_task(step, scope, prelude, resolve_child, status)
    if after:
        task["_after"] = after
    task["_continue_on"] = {**(task.get("_continue_on") or {}), "skipped": True}
    return task
