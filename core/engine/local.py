"""Local runs (`digpy run`): attempts of a project's workflows, with state in the project's `.digpy/`.

A run of a session that ran before skips every operator task that ended in success then and replays
its result (stores, exports, generated tasks), as Digdag's `.digdag/status` does. Workflows that
`require>` names run as further attempts in the same process and the same store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from digpy.core.engine.assembly import AttemptInfo, assemble, failures, new_graph, run_attempt
from digpy.core.engine.expressions import IsolatedTemplateEngine
from digpy.core.engine.guard import ATTEMPT_ENV, attempt_tag, stop_marked
from digpy.core.engine.runner import AttemptRunner, Output, RunSettings, may_overlap
from digpy.core.engine.session_lock import SessionBusy, SessionLock
from digpy.core.engine.sessions import RequiredSessions
from digpy.core.errors import ConfigError, Conflict
from digpy.core.language.builtins import format_session_time, parse_session_option
from digpy.core.plugin_manager import Registry, load_registry
from digpy.core.project import Project
from digpy.core.spi import AttemptStatus
from digpy.core.store.local import LOCAL_DIR, LocalStore
from digpy.core.store.sql import Store
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.resume import ResumePlan, ended_tasks, forced_tasks
from digpy.core.workflow.schedule import check_timezone, parse_schedule
from digpy.core.workflow.spec import TaskSpec, Workflow

log = logging.getLogger("digpy.run")
LOCAL_POLL_SECONDS = 0.2  # a required attempt runs in this process: asking often costs nothing
LOCKS_DIR = "locks"  # under .digpy: one lock file per session being run (digpy.core.engine.session_lock)


class LocalRunOptions(NamedTuple):
    workflow: str
    task: str | None = None
    session: str = "last"
    rerun: bool = False
    start: str | None = None
    goal: str | None = None
    end: str | None = None
    params: Mapping[str, Any] = MappingProxyType({})
    dry_run: bool = False
    show_params: bool = False
    max_tasks: int | None = None


class LocalRunResult(NamedTuple):
    workflow: str
    session_time: str
    attempt_id: int
    state: TaskState
    failures: list[tuple[str, str]]  # (task name, message) of every task that ended in error
    state_dir: Path
    skipped: int
    elapsed: float

    @property
    def success(self) -> bool:
        return self.state == TaskState.SUCCESS


def check_options(options: LocalRunOptions) -> None:
    pairs = [("start", "goal"), ("goal", "end"), ("rerun", "start"), ("rerun", "goal")]
    for a, b in pairs:
        if getattr(options, a) and getattr(options, b):
            raise ConfigError(f"--{a} and --{b} can't be used together")


class _Started(NamedTuple):
    info: AttemptInfo
    runner: AttemptRunner
    workflow: Workflow
    note: str


class LocalEngine:
    """What the attempts of one `digpy run` share: project, store, plugins and output.

    It is also the `SessionBackend` of their tasks: `require>` starts further attempts through it.
    """

    def __init__(self, project: Project, store: Store, registry: Registry, output: Output,
                 options: LocalRunOptions) -> None:
        self.project = project
        self.store = store
        self.registry = registry
        self.output = output
        self.options = options
        self.templates = IsolatedTemplateEngine()
        self.project_id = store.ensure_project(project.name)
        self.operators = registry.names()
        self._nested: dict[int, asyncio.Task[TaskState]] = {}
        self._status: dict[int, AttemptStatus] = {}
        self._by_session: dict[tuple[str, int], int] = {}
        self._runners: list[AttemptRunner] = []
        self._waits_for: dict[int, set[int]] = {}  # attempt -> the attempts its require> tasks wait for
        self._overlap = False  # whether commands of this run's attempts may run at the same time
        self._locks: dict[int, SessionLock] = {}  # attempt -> the lock of its session

    def load(self, name: str) -> Workflow:
        workflow = self.project.load(self.project.resolve(name), operators=self.operators, lenient=True)
        check_timezone(workflow.timezone, workflow.location)
        if workflow.unknown_operators:
            from digpy.core.workflow.tree import unknown_operator_warning

            for error in workflow.unknown_operators:  # the task fails when it is reached, as in Digdag
                log.warning("%s", unknown_operator_warning(self.registry.explain(error)))
        for message in workflow.expression_errors:  # evaluated when their task runs, as in Digdag
            log.warning("%s; its task will fail when it runs", message)
        if workflow.uses_javascript:  # the evaluator starts while the run gets ready
            self.templates.prepare()
        return workflow

    def begin(
        self, workflow: Workflow, *, session: str | datetime, params: Mapping[str, Any],
        specs: list[TaskSpec] | None = None, forced: Callable[[str], bool] | None = None,
        ended: frozenset[str] = frozenset(),
    ) -> _Started:
        """Create the session and attempt of `workflow` and a runner for it (not yet running)."""
        tz = ZoneInfo(workflow.timezone)
        if isinstance(session, datetime):
            session_time = session.astimezone(tz)
            note = f"Using session time {format_session_time(session_time)} for {workflow.name}."
        else:
            schedule = (parse_schedule(workflow.schedule, workflow.timezone, workflow.schedule_location)
                        if workflow.schedule is not None else None)
            last = self.store.latest_session_time(self.project_id, workflow.name)
            session_time, note = parse_session_option(
                session, workflow.timezone, now=datetime.now(tz), schedule=schedule,
                last_session_time=datetime.fromtimestamp(last, tz) if last is not None else None,
            )
        epoch = int(session_time.timestamp())
        record, created = self.store.open_session(self.project_id, workflow.name, epoch)
        lock = self._lock_session(record.id, workflow.name, session_time)
        if lock is not None and not created:
            # A run of this session that was killed may have left commands: they are gone before
            # any task runs again (digpy.core.engine.guard). Those of runs that ended stay.
            unfinished = self.store.unfinished_attempts(record.id)
            if unfinished:
                tags = [attempt_tag(record.session_uuid, a) for a in unfinished]
                stop_marked(ATTEMPT_ENV, *tags)
                self.registry.attempts_stale(tags)  # and what else they left (a shared container)
        try:
            attempt = self.store.create_attempt(record, timezone=workflow.timezone, params=dict(params))
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        if lock is not None:
            self._locks[attempt.id] = lock
        executed = self.store.last_executed_session_time(self.project_id, workflow.name, epoch)
        info = AttemptInfo(
            attempt_id=attempt.id, session_id=record.id, session_uuid=record.session_uuid,
            project_id=self.project_id, project_name=self.project.name, session_time=session_time,
            params=params, last_executed_session_time=datetime.fromtimestamp(executed, tz) if executed is not None else None,
            run_time=attempt.created_at,
        )
        plan = ResumePlan()
        if not self.options.rerun:
            done = self.store.prior_actions(record.id, attempt.id)
            plan = ResumePlan(done, forced or (lambda _n: False))
            if done:
                _warn_changed_params(self.store.previous_params(record.id, attempt.id), params)
        max_tasks = self.options.max_tasks or RunSettings().max_tasks
        self._overlap = self._overlap or (max_tasks > 1 and may_overlap(specs or workflow.tasks, self.operators.adds_tasks))
        runner = assemble(
            workflow, info, new_graph(specs or workflow.tasks, ended=ended), store=self.store,
            registry=self.registry, templates=self.templates, project_dir=self.project.directory,
            output=self.output, plan=plan, sessions=RequiredSessions(self, attempt.id),
            settings=RunSettings(
                max_tasks=max_tasks, dry_run=self.options.dry_run,
                show_params=self.options.show_params, passthrough=not self._overlap,
            ),
        )
        self._runners.append(runner)
        self._by_session[(workflow.name, epoch)] = attempt.id
        self._status[attempt.id] = AttemptStatus(attempt.id, record.id, False, False, LOCAL_POLL_SECONDS)
        return _Started(info, runner, workflow, note)

    def _lock_session(self, session_id: int, workflow: str, session_time: datetime) -> SessionLock | None:
        """Hold the session for this process, or refuse: two runs of one session would run the same
        tasks. A dry run records nothing and takes no lock."""
        if self.options.dry_run:
            return None
        try:
            return SessionLock.take(self.project.directory / LOCAL_DIR / LOCKS_DIR / f"session-{session_id}.lock")
        except SessionBusy as busy:
            by = f"digpy run pid {busy.pid}" if busy.pid is not None else "another digpy run"
            raise Conflict(f"session {format_session_time(session_time)} of {workflow} is running ({by})",
                           hint="wait for that run to end, or stop it, and run again") from None
        except OSError as e:
            raise ConfigError(f"cannot lock the session in {self.project.directory / LOCAL_DIR}: "
                              f"{e.strerror or e}") from None

    def release_locks(self) -> None:
        """Let other runs take the sessions this run held."""
        for lock in self._locks.values():
            lock.release()
        self._locks.clear()

    async def run(self, started: _Started) -> TaskState:
        """Run a started attempt to its end, record how it ended, and let go of its session."""
        info = started.info
        try:
            state = await run_attempt(started.runner, started.workflow, info, store=self.store,
                                      registry=self.registry)
        finally:
            lock = self._locks.pop(info.attempt_id, None)
            if lock is not None:
                lock.release()
        self._status[info.attempt_id] = AttemptStatus(
            info.attempt_id, info.session_id, True, state == TaskState.SUCCESS, LOCAL_POLL_SECONDS)
        return state

    def request_cancel(self) -> None:
        for runner in self._runners:
            runner.request_cancel()

    async def wait_for_required(self) -> None:
        """Let attempts started by `require>` end (the main attempt may have ended first)."""
        while self._nested:
            await asyncio.gather(*list(self._nested.values()), return_exceptions=True)

    # -- SessionBackend (where require> finds and starts attempts: in this process)

    def target(self, workflow: str, project_name: str | None) -> Workflow:
        if project_name is not None and project_name != self.project.name:
            raise ConfigError(f"require> project_name '{project_name}': local runs know only this project "
                              f"('{self.project.name}')")
        return self.load(workflow)

    def latest(self, target: Workflow, session_time: datetime) -> AttemptStatus | None:
        existing = self._by_session.get((target.name, int(session_time.timestamp())))
        return None if existing is None else self._status[existing]

    def start(self, target: Workflow, session_time: datetime, params: Mapping[str, Any],
              attempt_name: str | None, *, retry: bool) -> AttemptStatus:
        started = self.begin(target, session=session_time, params=params)
        attempt_id = started.info.attempt_id
        log.info("%s: starting %s for session %s (attempt %d)", "require>", target.name,
                 format_session_time(started.info.session_time), attempt_id)
        task = asyncio.ensure_future(self.run(started))
        self._nested[attempt_id] = task
        task.add_done_callback(lambda _t: self._nested.pop(attempt_id, None))
        return self._status[attempt_id]

    def status(self, attempt_id: int) -> AttemptStatus:
        status = self._status.get(attempt_id)
        if status is None:
            raise ConfigError(f"attempt {attempt_id} was not started by this run")
        return status

    def record_wait(self, attempt_id: int, waits_for: int) -> None:
        self._waits_for.setdefault(attempt_id, set()).add(waits_for)

    def waits_of(self, attempt_id: int) -> set[int]:
        return self._waits_for.get(attempt_id, set())


def run_local(project_dir: Path, options: LocalRunOptions, output: Output,
              registry: Registry | None = None) -> LocalRunResult:
    """Run one workflow locally to its end and report how it went."""
    started_at = time.monotonic()
    check_options(options)
    registry = registry or load_registry()
    for plugin in registry.broken:
        log.warning("%s", plugin)
    project = Project(project_dir)
    project.resolve(options.workflow)  # a workflow that is not there leaves no .digpy behind
    store = LocalStore.local_copy(project.directory) if options.dry_run else LocalStore.open_local(project.directory)
    engine: LocalEngine | None = None
    try:
        engine = LocalEngine(project, store, registry, output, options)
        workflow = engine.load(options.workflow)
        if len(workflow.tasks) == 1:  # the root alone
            where = f"{workflow.location}: " if workflow.location else ""
            log.warning("%sworkflow %s has no tasks (no +name: keys); nothing to run", where, workflow.name)
        specs = workflow.tasks
        if options.task:
            from digpy.core.workflow.select import only_subtree, select_task

            specs = only_subtree(specs, specs.index(select_task(specs, options.task)))
        started = engine.begin(workflow, session=options.session, params=options.params, specs=specs,
                               forced=forced_tasks(specs, start=options.start, goal=options.goal),
                               ended=ended_tasks(specs, end=options.end, goal=options.goal))
        log.info(started.note)
        state = _run_to_end(engine, started)
        return LocalRunResult(
            workflow=workflow.name, session_time=format_session_time(started.info.session_time),
            attempt_id=started.info.attempt_id, state=state,
            failures=failures(started.runner.graph), state_dir=project.directory / LOCAL_DIR,
            skipped=started.runner.skipped, elapsed=time.monotonic() - started_at,
        )
    finally:
        if engine is not None:
            engine.release_locks()
        store.close()


def _run_to_end(engine: LocalEngine, started: _Started) -> TaskState:
    async def main() -> TaskState:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, engine.request_cancel)
        try:
            state = await engine.run(started)
            await engine.wait_for_required()
            return state
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    return asyncio.run(main())


__all__ = ["LocalEngine", "LocalRunOptions", "LocalRunResult", "run_local"]


def _warn_changed_params(before: Mapping[str, Any] | None, now: Mapping[str, Any]) -> None:
    """A resumed session skips what succeeded, whatever the params now say: say so when they changed
    (a user giving `-p`/`-- KEY=VALUE` to the same session expects them to apply)."""
    if before is None or dict(before) == dict(now):
        return
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    shown = ", ".join(f"{k}: {before.get(k, '(unset)')} -> {now.get(k, '(unset)')}" for k in changed[:3])
    more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
    log.warning("Params differ from the earlier attempt of this session (%s%s): tasks that succeeded then are "
                "skipped, not run with the new params; use --rerun (or another --session) to run them again",
                shown, more)

