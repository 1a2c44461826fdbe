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
from digpy.core.language.dagu.child_output import child_result, fan_out_result, keep_task, workflow_outputs
from digpy.core.language.dagu.common import as_text, hms, located_map, output_name, set_located, whole_number
from digpy.core.language.dagu.control import read_continue_on, read_preconditions, read_repeat, read_retry
from digpy.core.language.dagu.executor import read_executor
from digpy.core.language.dagu.mail import Mail, mail_step_task
from digpy.core.language.dagu.schema import DAG_KEYS, DAG_NOT_YET, STEP_KEYS, STEP_NOT_YET, normalized
from digpy.core.language.dagu.secrets import read_secrets
from digpy.core.language.dagu.setup import (
    STEP_FILES,
    Prelude,
    copy_output,
    keep_step_files,
    param_items,
    read_env,
    read_params,
    step_files_dir,
)
from digpy.core.language.dagu.steps import Step, read_steps, task_of
from digpy.core.language.dagu.variables import (
    Scope,
    child_output_param,
    fan_out_item_param,
    for_shell,
    for_value,
    literal,
    shell_quote,
    step_reference_param,
)
from digpy.core.workflow.located import ConfigMap, key_location, location_of, value_location, without_keys

DEFAULT_CONCURRENCY = 10  # Dagu's default for `parallel:`
HANDLERS = ("init", "success", "failure", "exit", "cancel", "abort")  # abort: cancel's name from Dagu 1.26
HANDLERS_NOT_YET = ("wait",)


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
    if dag.get("maxOutputSize") is not None:
        scope.max_output_size = whole_number(dag["maxOutputSize"], "maxOutputSize", value_location(dag, "maxOutputSize"),
                                             minimum=1)
    if dag.get("shell") is not None:
        scope.shell = _shell_words(dag["shell"], dag)
    steps = read_steps(dag, scope)
    out = ConfigMap(location_of(dag))
    limit = dag.get("maxActiveSteps")
    if limit is not None:
        whole_number(limit, "maxActiveSteps", value_location(dag, "maxActiveSteps"), minimum=1)
    set_located(out, "_parallel", {"limit": limit} if limit else True, dag, "steps")
    _settings(dag, out)
    secrets = read_secrets(dag, scope)
    if secrets:  # every step's commands get them (and the handlers', and the children's)
        out["_export"] = {"_env": secrets}
    mail = Mail(dag, name)
    scope.smtp = mail.server  # for mail steps, handlers' too
    prelude = Prelude(dag, scope)
    sources: list[str] = []
    handlers = _handlers(dag)
    if "init" in handlers:
        out["+on_init"] = _handler_task(handlers["init"], "init", scope, prelude, resolve_child, [], None)
        sources = ["+on_init"]
    if dag.get("preconditions") is not None:
        task = ConfigMap(value_location(dag, "preconditions"))
        task["sh>"] = "true"
        task["_precondition"] = read_preconditions(dag["preconditions"], value_location(dag, "preconditions"),
                                               scope, prelude.text(None))
        if sources:
            task["_after"] = sources
        out["+preconditions"] = task
        sources = ["+preconditions"]
    finish: dict[str, str] = {}  # a step's task → the task after which it is done (its outputs kept)
    for step in steps:
        task = _step_task(step, scope, prelude, resolve_child, mail=mail, outputs_of=outputs_of)
        after = [finish.get(t, t) for t in (task_of(steps, dep) for dep in step.depends)] or sources
        if after:
            task["_after"] = after
        out[step.task] = task
        ident = step.config.get("id")
        if isinstance(ident, str) and scope.references.get(ident):
            finish[step.task] = _keep_references(step, ident, sorted(scope.references[ident]), task, out)
        outputs = sorted(scope.child_outputs.get(step.name, ()))
        if outputs and step.config.get("parallel") is None:
            # a task after the child DAG keeps the outputs read as ${STEP.outputs.NAME} under names of
            # this step's own (the child's plain names are overwritten by a later child's)
            keep = ConfigMap(step.location)
            keep["_after"] = [step.task]
            for name in outputs:
                keep[f"+{name}"] = {"sh>": f'printf "%s" "$${name}"', "output": child_output_param(step.name, name)}
            finish[step.task] = f"{step.task}__outputs"
            out[finish[step.task]] = keep
        child_output = _child_output_task(step, resolve_child, outputs_of, [finish.get(step.task, step.task)])
        if child_output is not None and step.config.get("parallel") is not None and "_error" not in task:
            # a child failed: the fan-out fails once all are done, its aggregate kept for the handlers
            task["_error"] = {"+output": {k: v for k, v in child_output.items() if k != "_after"}}
        if child_output is not None:
            finish[step.task] = f"{step.task}__output"
            out[finish[step.task]] = child_output
    all_steps = [finish.get(s.task, s.task) for s in steps] or sources
    if "success" in handlers:
        task = _handler_task(handlers["success"], "success", scope, prelude, resolve_child, all_steps, "succeeded")
        if dag.get("preconditions") is not None:  # an unmet DAG precondition: no success (Dagu: aborted)
            task["_precondition"] = [*read_preconditions(dag["preconditions"], value_location(dag, "preconditions"),
                                                     scope, prelude.text(None)), *task.get("_precondition", [])]
        out["+on_success"] = task
    if mail.on_success:  # mailOn.success: infoMail once the steps (and the success handler) are done
        out["+mail_on_success"] = {**mail.success_task(), "_continue_on": {"skipped": True},
                                   "_after": ["+on_success"] if "success" in handlers else all_steps}
    if "exit" in handlers:
        out["+on_exit"] = _handler_task(handlers["exit"], "exit", scope, prelude, resolve_child,
                                        ["+on_success"] if "success" in handlers else all_steps, "succeeded")
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
    return out


def _child_output_task(step: Step, resolve_child: ChildResolver, outputs_of: OutputsOf,
                       after: list[str]) -> dict[str, Any] | None:
    """`output:` on a step that runs a child DAG: the task after it that keeps the JSON, or None."""
    config = step.config
    target = config.get("run")
    if config.get("output") is None or not isinstance(target, str):
        return None
    name = output_name(config["output"], value_location(config, "output"))
    child = target.strip()
    if config.get("parallel") is not None:
        items = [(fan_out_item_param(step.name, key), child, params) for key, params in _fan_out_items(step)]
        return keep_task(fan_out_result(items), name, after)
    text = config.get("params")
    params = text if isinstance(text, str) else " ".join(
        f"{k}={v}" for k, v in _child_params(text, value_location(config, "params")).items())
    return keep_task(child_result(_child_name(child), params,
                                  outputs_of(resolve_child(child, value_location(config, "run"))), True), name, after)


def _child_name(target: str) -> str:
    return target.rsplit("/", 1)[-1].rsplit(".", 1)[0] if target.endswith((".yaml", ".yml", ".dig")) else target


def _keep_references(step: Step, ident: str, kinds: list[str], task: ConfigMap, out: ConfigMap) -> str:
    """A step read by `${ID.stdout}`, `${ID.stderr}` or `${ID.exitCode}`: it keeps its stdout, stderr
    and exit code in files of a directory of its own, and a task after it keeps what is read as
    params (the paths, as in Dagu, and the code). The name of the task after it."""
    if "setup" not in task or "docker" in task:
        raise ConfigError(f"${{{ident}.{kinds[0]}}}: references to a step that runs a child DAG, a container, an "
                          "http request or a script through a command are not supported yet by digpy",
                          location=key_location(step.config, "id") or step.location,
                          hint="print what you need and keep it with output: NAME")
    task["setup"] = keep_step_files(step_files_dir("task_name")) + task["setup"]
    keep = ConfigMap(step.location)
    keep["_after"] = [step.task]
    here = 'task_name.slice(0, task_name.lastIndexOf("__refs+"))'  # this task's name → the step's
    for kind in kinds:
        reader = f'printf "%s" {step_files_dir(here)}/{STEP_FILES[kind]}' if kind != "exitCode" else \
            f"cat {step_files_dir(here)}/{STEP_FILES[kind]}"
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
    runs = dag.get("maxActiveRuns", 1)  # Dagu's default: one run at a time, the others wait
    if runs != -1:  # -1: never queue
        set_located(out, "max_active_attempts", whole_number(runs, "maxActiveRuns", value_location(dag, "maxActiveRuns"),
                                                             minimum=1), dag, "maxActiveRuns")
    if dag.get("queue") is not None:
        set_located(out, "queue", dag["queue"], dag, "queue")
    if dag.get("timeoutSec") is not None:
        seconds = whole_number(dag["timeoutSec"], "timeoutSec", value_location(dag, "timeoutSec"), minimum=1)
        set_located(out, "sla", located_map({"duration": hms(seconds), "fail": True, "alert": False},
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
    executor = read_executor(config)
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
        if executor.kind == "docker":
            env = {**(executor.env or {}), **env}
        _shell_task(step, scope, prelude, env, status, task, workdir=executor.workdir,
                    shell=scope.shell if executor.kind == "shell" else None, default_shell=executor.kind == "shell")
        if executor.docker is not None:
            task["docker"] = executor.docker
    if config.get("output") is not None and scope.max_output_size is not None and config.get("run") is None:
        task["max_output_size"] = scope.max_output_size
    if config.get("output") is not None and config.get("run") is None:  # of a child DAG: _child_output_task
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
        writer, task["sh>"] = _run_by(words, text, as_file,
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


def _run_by(words: list[str], text: str, as_file: bool, filled: str) -> tuple[str, str]:
    """Shell lines (setup, command) that run `text` by the command `words`: as a temporary file
    (written by a quoted here-document, removed after, the exit code kept; `filled`: the text with
    the references only an expression can read, `${id.stdout}`..., as Dagu fills them in) or after `-c`."""
    command = " ".join(w if re.fullmatch(r"[\w./=:-]+", w) else shell_quote(w) for w in words)
    if not as_file:
        return "", literal(f"{command} -c {shell_quote(text)}")
    end, n = "DIGPY_SCRIPT", 0
    while end in text.splitlines():
        n += 1
        end = f"DIGPY_SCRIPT_{n}"
    writer = literal(f'_digpy_script=$(mktemp) || exit 1\ncat > "$_digpy_script" <<\'{end}\'\n') + filled + \
        literal(("" if text.endswith("\n") else "\n") + f'{end}\n_digpy_run() {{ "$@" "$_digpy_script"; set -- $?; '
                'rm -f "$_digpy_script"; return $1; }\n')
    return writer, literal(f"_digpy_run {command}")


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
        _call(task, resolve_child(target.strip(), loc), {k: for_value(v, scope, loc) for k, v in params.items()})
        return
    items, limit = _parallel(parallel, value_location(config, "parallel"), scope)
    task["_parallel"] = {"limit": limit}
    inner = Scope(**{**scope.__dict__, "items": True})
    child = resolve_child(target.strip(), loc)
    if isinstance(items, str):  # a variable: its items are known when the step runs (for_each>)
        if config.get("output") is not None:
            raise ConfigError("output on a parallel: step over a variable is not supported yet by digpy",
                              location=key_location(config, "output"),
                              hint="list the items in the file, or read each child's outputs by name")
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
            exported = {str(k): literal(as_text(v)) for k, v in item.items()}
        exported["ITEM"] = literal(text)
        sub = ConfigMap(loc)
        _call(sub, child, exported)
        if config.get("output") is not None:  # the child's JSON kept under a name of the item's own
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


def _fan_out_items(step: Step) -> list[tuple[str, str]]:
    """The items of a fan-out over a list: (their task's name without +, their params as text), in order."""
    items, _ = _parallel(step.config["parallel"], value_location(step.config, "parallel"), Scope(dag_name=""))
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
            value, name = _env_items(scope.env[name]), None
        if name is not None:
            if name not in scope.outputs and name not in scope.params:
                raise ConfigError(f"parallel: {value} is neither a param, an env entry nor the output of a step",
                                  location=loc, hint="name a param or an output (output: NAME) of an earlier step")
            return name, limit
        if isinstance(value, str):
            try:
                value = shlex.split(value.replace(",", " ").replace(";", " ").replace("|", " "))
            except ValueError as e:
                raise ConfigError(f"parallel: {e}", location=loc) from None
    if not isinstance(value, list):
        raise ConfigError("parallel must be a list of items, a variable, or {items, maxConcurrent}", location=loc)
    if not value:
        raise ConfigError("parallel has no items (Dagu refuses zero items too)", location=loc)
    return list(value), limit


def _env_items(text: str) -> list[Any] | str:
    """The items of a `parallel:` over an env entry of the DAG: a JSON array's, or the words of the text."""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if isinstance(parsed, list) else text


# ---------------------------------------------------------------- handlers

def _handler_task(handler: ConfigMap, kind: str, scope: Scope, prelude: Prelude, resolve_child: ChildResolver,
                  after: list[str], status: str | None) -> ConfigMap:
    if handler.get("depends") is not None:
        raise ConfigError(f"handlerOn.{kind} can't have depends", location=key_location(handler, "depends"))
    step = Step(str(handler.get("name", f"on_{kind}")), f"+on_{kind}", handler, location_of(handler))
    task = _step_task(step, scope, prelude, resolve_child, status)
    if after:
        task["_after"] = after
    task["_continue_on"] = {**(task.get("_continue_on") or {}), "skipped": True}
    return task
