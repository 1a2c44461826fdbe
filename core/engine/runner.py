"""The runner: drives one attempt's state machine on an asyncio loop.

Each turn of the loop: wake tasks whose wait is over, apply the results of finished operators,
take ready tasks up to the concurrency limit, persist every change in one transaction, and only
then start the operators of the newly running tasks. The loop never blocks on a task.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from digpy.core.engine.context import Masker, TaskContext, env_value
from digpy.core.engine.control import repeat_again, siblings_outcome, skip_reason
from digpy.core.engine.guard import attempt_tag
from digpy.core.engine.process import STOP_GRACE, STOP_SIGNAL
from digpy.core.engine.sessions import NoSessions
from digpy.core.errors import ConfigError, DigpyError, TaskError, UnknownOperator
from digpy.core.language.expression import TemplateEngine
from digpy.core.plugin_manager import Registry
from digpy.core.spi import SecretProvider, Sessions, TaskResult
from digpy.core.store.sql import Store
from digpy.core.workflow.control import (
    NO_CONTINUE,
    SKIP_PASSED,
    SKIPPED,
    parse_continue_on,
    parse_outcome,
    parse_stop_grace,
    parse_stop_signal,
)
from digpy.core.workflow.model import Task, TaskState
from digpy.core.workflow.params import task_params
from digpy.core.workflow.resume import ResumePlan
from digpy.core.workflow.retry import NO_RETRY, RetryPolicy, parse_retry
from digpy.core.workflow.state_machine import AttemptGraph, MissedDeadline

log = logging.getLogger("digpy.runner")
DEFAULT_MAX_TASKS = 32


class Output(Protocol):
    """Where task output and task progress go (the terminal view, plain stdout, a log file)."""

    def task_output(self, task: Task, text: str, stream: str) -> None: ...

    def task_started(self, task: Task, summary: str) -> None: ...

    def task_finished(self, task: Task) -> None: ...

    def flush(self) -> None: ...

    def start(self) -> None:
        """Called on the event loop when the run starts."""

    def passthrough(self) -> tuple[int, int] | None:
        """File descriptors (stdout, stderr) commands may write to directly, or None to capture
        their output through task_output. Called just before a command starts."""


class NullOutput:
    """An Output that drops everything; subclasses override what they keep."""

    def task_output(self, task: Task, text: str, stream: str) -> None:
        pass

    def task_started(self, task: Task, summary: str) -> None:
        pass

    def task_finished(self, task: Task) -> None:
        pass

    def flush(self) -> None:
        pass

    def start(self) -> None:
        pass

    def passthrough(self) -> tuple[int, int] | None:
        return None


# Runs blocking work (SQL) and returns its result: inline for local runs, in a thread on the server.
Offload = Callable[[Callable[[], Any]], Awaitable[Any]]


async def inline(work: Callable[[], Any]) -> Any:
    """The Offload of local runs: the work runs right here (a local SQLite commit takes microseconds)."""
    return work()


class RunSettings(NamedTuple):
    max_tasks: int = DEFAULT_MAX_TASKS
    dry_run: bool = False
    show_params: bool = False
    # Whether commands may write straight to the output's descriptors: only when no two commands can
    # run at once, or lines of parallel tasks could be spliced (see may_overlap).
    passthrough: bool = True


class AttemptRunner:
    """Runs one attempt to its end (or until canceled), persisting every transition."""

    def __init__(
        self, *, store: Store, attempt_id: int, graph: AttemptGraph, registry: Registry,
        templates: TemplateEngine, base_params: Mapping[str, Any], builtins: Mapping[str, Any],
        timezone: str, project_dir: Path, output: Output, secret_providers: Sequence[SecretProvider] = (),
        project_name: str | None = None,
        plan: ResumePlan | None = None, settings: RunSettings | None = None, sessions: Sessions | None = None,
        offload: Offload | None = None, owner: str | None = None,
        on_sla_miss: Callable[[MissedDeadline], None] | None = None,
    ) -> None:
        self.store = store
        self.on_sla_miss = on_sla_miss  # told of each SLA missed with `alert: true`, once it is stored
        self.offload = offload or inline
        self.owner = owner  # the node whose lease every write checks (the server), or None
        self.attempt_id = attempt_id
        self.graph = graph
        self.registry = registry
        self.templates = templates
        self.base_params = dict(base_params)
        self.builtins = dict(builtins)
        self.attempt_tag = attempt_tag(str(self.builtins.get("session_uuid", "")), attempt_id)
        self.timezone = timezone
        self.project_dir = project_dir
        self.output = output
        self.secret_providers = list(secret_providers)
        self.project_name = project_name
        self.masker = Masker()
        self.plan = plan or ResumePlan()
        self.sessions: Sessions = sessions or NoSessions()
        self.settings = settings or RunSettings()
        self.running: dict[int, asyncio.Task[None]] = {}
        self._completed: list[tuple[int, str, Any]] = []
        self._wakeup = asyncio.Event()
        self._cancel_requested = False
        self.skipped = 0
        self.output_error: str | None = None
        self._finished: set[int] = set()  # tasks whose end the output has been told of

    def emit(self, task: Task, text: str, stream: str) -> None:
        """Task output, with every secret value the attempt has read masked. Output that cannot be
        written (a closed pipe, a full disk) is dropped and remembered in `output_error`."""
        try:
            self.output.task_output(task, self.masker(text) if self.masker.values else text, stream)
        except OSError as e:
            self.output_error = f"the task's output could not be written ({e.strerror or e})"

    def passthrough(self) -> tuple[int, int] | None:
        """Commands may write to the output directly only while there is nothing to mask and no
        other command can write at the same time."""
        return None if self.masker.values or not self.settings.passthrough else self.output.passthrough()

    def abort(self) -> None:
        """Stop the running operators now and leave the stored states as they are, so that another
        runner (another node, or this one after a restart) takes the attempt over."""
        for handle in self.running.values():
            handle.cancel()

    def request_cancel(self) -> None:
        """Cancel the attempt: stop running operators, start nothing new."""
        self._cancel_requested = True
        self._wakeup.set()

    async def run(self) -> Task:
        """Run until the root task is done; returns the root task. However it stops here (done,
        handed back on shutdown, taken over by another node), what plugins keep for the attempt (a
        container its tasks share) is released."""
        try:
            return await self._run()
        finally:
            await asyncio.shield(self.registry.attempt_ended(self.attempt_tag))

    async def _run(self) -> Task:
        graph = self.graph
        self.output.start()
        graph.start(time.time())
        while True:
            now = time.time()
            if self._cancel_requested:
                self._cancel_requested = False
                for task in graph.request_cancel(now):
                    handle = self.running.get(task.id)
                    if handle is not None:
                        handle.cancel()
            graph.wake(now)
            if graph.to_stop:  # a group's `_timeout` passed: its running tasks are stopped as a kill does
                for task in graph.take_to_stop():
                    handle = self.running.get(task.id)
                    if handle is not None:
                        handle.cancel()
            misses = graph.take_sla_misses() if graph.sla_misses else []
            for miss in misses:
                log.warning("SLA missed: %s%s", miss.message, " (the attempt will fail)" if miss.sla.fail else "")
            self._apply_completions(now)
            starts = self._dispatch(now)
            created, changed = graph.take_changes()
            # What the tasks printed is out before their success is recorded: a run killed between
            # the two would otherwise skip those tasks next time, their output never shown.
            self.output.flush()
            if created or changed:
                try:
                    if self.offload is inline and self.owner is None:  # a local run: the commit takes microseconds
                        self.store.write_tasks(self.attempt_id, created, changed)
                    else:
                        await self.offload(partial(self.store.write_tasks, self.attempt_id, created, changed,
                                                   owner=self.owner))
                except BaseException:  # e.g. LeaseLost: the operators taken in this turn never start
                    for _task, coro in starts:
                        coro.close()
                    raise
            for miss in misses:  # stored: now they may be told
                if miss.sla.alert and self.on_sla_miss is not None:
                    self.on_sla_miss(miss)
            for tasks in (created, changed):  # a task can end in the turn that creates it
                for task in tasks:
                    if task.is_done and task.id not in self._finished:
                        self._finished.add(task.id)  # a done task changes again when a group retry ends
                        self.output.task_finished(task)
            for task, coro in starts:
                self.running[task.id] = asyncio.ensure_future(coro)
            self.output.flush()  # the live view's counts (plain output: nothing left to write)
            if graph.done and not self.running:
                return graph.root
            if self._completed:
                continue
            wake_at = graph.next_wake()
            timeout = None if wake_at is None else max(0.0, wake_at - time.time())
            if timeout is None or timeout > 0:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
                except TimeoutError:
                    pass
            self._wakeup.clear()

    # ------------------------------------------------------------------ internals

    def _apply_completions(self, now: float) -> None:
        done, self._completed = self._completed, []
        for task_id, kind, value in done:
            self.running.pop(task_id, None)
            task = self.graph.tasks[task_id]
            if task.state != TaskState.RUNNING:
                continue
            if kind == "ok":
                result: TaskResult = value
                if result.poll_after is not None:
                    self.graph.poll_later(task, result.poll_after, result.state, now)
                else:
                    self.graph.succeed(task, result, now)
            elif kind == "continued":  # failed under _continue_on: a success that keeps its error
                kept, stores = value
                self.graph.succeed(task, TaskResult(stores=stores or {}), now, kept_error=kept)
            elif kind == "canceled":
                self.graph.canceled(task, now)
            elif kind == "invalid":  # its params could not be evaluated: no retry
                self.graph.fail(task, value, now, allow_retry=False)
            else:
                error, retry, stores = value
                self.graph.fail(task, error, now, retry=retry, stores=stores)

    def _dispatch(self, now: float) -> list[tuple[Task, Any]]:
        starts: list[tuple[Task, Any]] = []
        graph = self.graph
        while len(self.running) + len(starts) < self.settings.max_tasks:
            task = graph.take_ready()
            if task is None:
                break
            graph.mark_running(task, now)
            record = self.plan.record_for(task.full_name)
            if record is not None:
                self.skipped += 1
                self.output.task_started(task, "skipped (succeeded in an earlier attempt)")
                graph.succeed(task, TaskResult(
                    exports=record.export_params, stores=record.store_params, reset_stores=record.reset_store,
                    subtasks=record.subtask_config,
                ), now)
                continue
            data: set[str] = set()
            merged = self._merge(task, data)
            if merged is None:
                continue
            params = self.templates.try_render_params(merged, self.timezone, data)
            if params is None:  # JavaScript: evaluated in a thread, under the time limit, off this loop
                starts.append((task, self._render_then_execute(task, merged, data)))
                continue
            prepared = self._prepare(task, params)
            if prepared is None:
                continue
            if self.settings.dry_run:
                graph.succeed(task, TaskResult(), now)
                continue
            starts.append((task, self._execute(task, *prepared)))
        return starts

    def _merge(self, task: Task, data: set[str]) -> dict[str, Any] | None:
        """The task's merged params (not evaluated yet; `data` gets the keys that are data, never
        templates); fail the task if that fails."""
        try:
            return task_params(self.graph, task, base=self.base_params,
                               builtins={**self.builtins, "task_name": task.full_name}, data=data)
        except DigpyError as e:
            self.graph.fail(task, {"message": self.masker(str(e))}, time.time(), allow_retry=False)
            return None

    def _prepare(self, task: Task, params: dict[str, Any]) -> tuple[Any, TaskContext, RetryPolicy | None] | None:
        """Find the operator of a task whose params are evaluated and announce it; fail the task if that fails."""
        try:
            operator, context, retry = self._operator(task, params)
        except DigpyError as e:
            self.graph.fail(task, {"message": self.masker(str(e))}, time.time(), allow_retry=False)
            return None
        return operator, context, retry

    def _operator(self, task: Task, params: dict[str, Any]) -> tuple[Any, TaskContext, RetryPolicy | None]:
        if self.settings.show_params:
            log.info("%s: params %s", task.full_name,
                     json.dumps(params, ensure_ascii=False, separators=(",", ":"), default=str))
        retry = parse_retry(params["_retry"]) if task.directives.retry_templated else None
        op_name = params.get("_type")
        operator = self.registry.get(op_name) if isinstance(op_name, str) else None
        if operator is None:  # Digdag's words (and why, if a plugin failed to load); warned at the start
            raise ConfigError(f"Unknown task type: {op_name}",
                              hint=self.registry.explain(UnknownOperator(str(op_name))).hint)
        context = TaskContext(self, task, params)
        if not task.state_params:  # a task polled again is not announced again
            summary = f"{task.config.get('_type')}>: {_short(context.command)}"
            self.output.task_started(task, self.masker(summary))
        return operator, context, retry

    async def _render_then_execute(self, task: Task, merged: dict[str, Any], data: set[str]) -> None:
        """A task whose params need JavaScript: evaluated in a thread (an expression may take up to
        the time limit, and the loop serves other tasks and, on a server, the API meanwhile)."""
        try:
            params = await asyncio.get_running_loop().run_in_executor(
                None, self.templates.render_params, merged, self.timezone, data)
            operator, ctx, retry = self._operator(task, params)
        except asyncio.CancelledError:
            self._completed.append((task.id, "canceled", None))
            self._wakeup.set()
            return
        except DigpyError as e:
            self._completed.append((task.id, "invalid", {"message": self.masker(str(e))}))
            self._wakeup.set()
            return
        if self.settings.dry_run:
            self._completed.append((task.id, "ok", TaskResult()))
            self._wakeup.set()
            return
        await self._execute(task, operator, ctx, retry)

    async def _execute(self, task: Task, operator: Any, ctx: TaskContext, retry: RetryPolicy | None) -> None:
        outcome: tuple[int, str, Any]
        control = ctx.params.get("_precondition") is not None or ctx.params.get("_continue_on") is not None \
            or ctx.params.get(SKIPPED) is not None or ctx.params.get("_timeout") is not None
        continue_on = parse_continue_on(ctx.params.get("_continue_on")) if control else NO_CONTINUE
        repeat = ctx.params.get("_repeat") is not None
        try:
            if ctx.params.get("_stop_signal") is not None:  # for this task's commands (its own asyncio task)
                STOP_SIGNAL.set(parse_stop_signal(ctx.params["_stop_signal"]))
            if ctx.params.get("_outcome") is not None:
                name, of = parse_outcome(ctx.params["_outcome"])
                ctx.params[name] = siblings_outcome(self.graph, task, of)
            if ctx.params.get("_stop_grace") is not None:
                STOP_GRACE.set(parse_stop_grace(ctx.params["_stop_grace"]))
            if control and (skip := await skip_reason(ctx, continue_on)) is not None:
                ctx.output(f"skipped: {skip}\n")
                result = TaskResult(stores={SKIPPED: SKIP_PASSED if continue_on.if_skipped else True})
            else:
                if continue_on.output:
                    ctx.recorded = []
                timeout = ctx.params.get("_timeout")
                if timeout is None:
                    result = await operator.run(ctx)
                else:  # the operator is canceled at the deadline (its command stopped), and the task fails
                    try:
                        result = await asyncio.wait_for(operator.run(ctx), float(timeout))
                    except TimeoutError:
                        raise TaskError(f"timed out after {timeout} seconds (_timeout)") from None
                if not isinstance(result, TaskResult):
                    result = TaskResult()
                if continue_on.skipped and ctx.params.get(SKIPPED) is not None:
                    result = replace(result, reset_stores=[*result.reset_stores, SKIPPED])
                if repeat and result.poll_after is None:
                    result = await repeat_again(ctx, 0) or result
            outcome = (task.id, "ok", result)
        except asyncio.CancelledError:
            outcome = (task.id, "canceled", None)
        except TaskError as e:
            error: dict[str, Any] = {"message": e.message}
            if e.details:
                error["details"] = e.details
            if e.command_code is not None:
                error["exit_code"] = e.command_code
            policy = retry or task.directives.retry or NO_RETRY
            retries_left = task.retry_count < policy.limit and policy.retries(error)
            again = await repeat_again(ctx, e.command_code) if repeat else None
            if again is not None:
                outcome = (task.id, "ok", again)
            elif control and not retries_left and continue_on.accepts(e.command_code, "".join(ctx.recorded or ())):
                if continue_on.mark_success:
                    ctx.output(f"failed, marked as success (_continue_on mark_success): {e.message}\n")
                    outcome = (task.id, "ok", TaskResult(stores=e.stores or {}))
                else:
                    ctx.output(f"failed, continuing (_continue_on): {e.message}\n")
                    outcome = (task.id, "continued", ({**error, "continued": True}, e.stores))
            else:
                outcome = (task.id, "error", (error, retry, e.stores))
        except DigpyError as e:
            outcome = (task.id, "error", ({"message": str(e)}, retry, None))
        except Exception as e:
            log.error("operator %s> failed on %s with an unexpected error", task.config.get("_type"),
                      task.full_name, exc_info=True)
            outcome = (task.id, "error", ({"message": f"{type(e).__name__}: {e}",
                                           "stacktrace": traceback.format_exc()}, retry, None))
        if outcome[1] == "error" and self.masker.values:
            failed, retry, stores = outcome[2]  # type: ignore[misc]  # an error outcome holds (error, retry, stores)
            outcome = (task.id, "error", ({k: self.masker(v) if isinstance(v, str) else v
                                          for k, v in failed.items()}, retry, stores))
        self._completed.append(outcome)
        self._wakeup.set()


def may_overlap(specs: Sequence[Any], adds_tasks: Collection[str]) -> bool:
    """Whether two commands of a workflow (compiled TaskSpecs) may run at the same time: some task
    or generated `_do` is `_parallel` or `_background`, or an operator brings in tasks this cannot
    see (`adds_tasks`: the operators with that trait). Commands that run one at a time may write straight to digpy's stdout; others go through
    pipes, so that every output line arrives whole (a command writes in 4-8 KB blocks when its
    output is not a terminal, and two such blocks would cut each other's lines)."""
    return any(spec.config.get("_type") in adds_tasks or _concurrent(spec.config) for spec in specs)


def _concurrent(value: Any) -> bool:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("_parallel", "_background") and item not in (False, None, "false"):
                return True
            if isinstance(item, dict | list) and _concurrent(item):
                return True
    elif isinstance(value, list):
        return any(isinstance(item, dict | list) and _concurrent(item) for item in value)
    return False


def tune_gc() -> None:
    """For a process that runs attempts: what is loaded so far (modules, the workflow) is never
    garbage, so the collector stops scanning it (`gc.freeze`), and it runs less often: an attempt
    allocates many small objects that live as long as their task (W3 100,000 tasks: 7.09 → 6.47 s;
    W2: 1.5 % less; docs/performance.md)."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _short(command: Any, limit: int = 200) -> str:
    try:
        text = command if isinstance(command, str) else ("" if command is None else env_value(command))
    except (TypeError, ValueError):  # a value JSON cannot hold (a plugin's own objects)
        text = repr(command)
    text = text.strip().replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
