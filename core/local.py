"""Local runs (`digpy run`): one attempt of one workflow, with state kept in the project's `.digpy/`.

A run of a session that ran before skips every task whose own action succeeded then and replays
its result (stores, exports, generated tasks), as Digdag's `.digdag/status` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digpy.core.errors import ConfigError
from digpy.core.language.builtins import format_session_time, parse_session_option, session_variables
from digpy.core.language.compiler import TaskSpec, Workflow
from digpy.core.language.expression import TemplateEngine
from digpy.core.plugin_manager import Registry, load_registry
from digpy.core.process import use_pidfd_child_watcher
from digpy.core.project import Project, ancestor_indexes, only_subtree, select_task, subtree_indexes
from digpy.core.runner import AttemptRunner, Output, ResumePlan, RunSettings
from digpy.core.schedule import check_timezone, parse_schedule
from digpy.core.store.sql import LOCAL_DIR, Store
from digpy.core.workflow.model import Task, TaskState
from digpy.core.workflow.state_machine import AttemptGraph


@dataclass
class LocalRunOptions:
    workflow: str
    task: str | None = None
    session: str = "last"
    rerun: bool = False
    start: str | None = None
    goal: str | None = None
    end: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    show_params: bool = False
    max_tasks: int | None = None
    secrets: dict[str, str] = field(default_factory=dict)


@dataclass
class LocalRunResult:
    workflow: str
    session_time: str
    session_note: str
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


def prepare_workflow(project: Project, options: LocalRunOptions, registry: Registry) -> Workflow:
    return project.load(project.resolve(options.workflow), operators=registry.names())


def run_local(project_dir: Path, options: LocalRunOptions, output: Output,
              registry: Registry | None = None) -> LocalRunResult:
    """Run one workflow locally to its end and report how it went."""
    started = time.monotonic()
    check_options(options)
    registry = registry or load_registry()
    project = Project(project_dir)
    workflow = prepare_workflow(project, options, registry)
    check_timezone(workflow.timezone, workflow.location)
    tz = ZoneInfo(workflow.timezone)
    schedule = (
        parse_schedule(workflow.schedule, workflow.timezone, workflow.schedule_location)
        if workflow.schedule is not None else None
    )
    specs = workflow.tasks
    if options.task:
        specs = only_subtree(specs, specs.index(select_task(specs, options.task)))

    store = Store.memory() if options.dry_run else Store.open_local(project.directory)
    try:
        project_id = store.ensure_project(project.name)
        now = datetime.now(tz)
        last = store.latest_session_time(project_id, workflow.name)
        session_time, note = parse_session_option(
            options.session, workflow.timezone, now=now, schedule=schedule,
            last_session_time=datetime.fromtimestamp(last, tz) if last is not None else None,
        )
        logging.getLogger("digpy.run").info(note)
        epoch = int(session_time.timestamp())
        session = store.session_for(project_id, workflow.name, epoch)
        attempt = store.create_attempt(session, timezone=workflow.timezone, params=options.params)
        executed = store.last_executed_session_time(project_id, workflow.name, epoch)
        builtins = session_variables(
            session_time, workflow.timezone, schedule=schedule,
            last_executed_session_time=datetime.fromtimestamp(executed, tz) if executed is not None else None,
        )
        builtins.update(
            attempt_id=attempt.id, session_id=session.id, session_uuid=session.session_uuid,
            project_id=project_id, project_name=project.name, retry_attempt_name=None,
        )
        plan = ResumePlan()
        if not options.rerun:
            plan = ResumePlan(store.prior_actions(session.id, attempt.id), _forced(specs, options))
        graph = AttemptGraph.new(specs, time.time())
        graph.no_op_names = _ended(specs, options)
        runner = AttemptRunner(
            store=store, attempt_id=attempt.id, graph=graph, registry=registry,
            templates=TemplateEngine(), base_params=options.params, builtins=builtins,
            timezone=workflow.timezone, project_dir=project.directory, output=output,
            secrets=options.secrets, plan=plan,
            settings=RunSettings(
                max_tasks=options.max_tasks or RunSettings().max_tasks, dry_run=options.dry_run,
                show_params=options.show_params,
            ),
        )
        root = _run_to_end(runner)
        store.finish_attempt(attempt.id, success=root.state == TaskState.SUCCESS,
                             canceled=root.state == TaskState.CANCELED)
        return LocalRunResult(
            workflow=workflow.name, session_time=format_session_time(session_time), session_note=note,
            attempt_id=attempt.id, state=root.state, failures=_failures(graph), state_dir=project.directory / LOCAL_DIR,
            skipped=runner.skipped, elapsed=time.monotonic() - started,
        )
    finally:
        store.close()


def _run_to_end(runner: AttemptRunner) -> Task:
    use_pidfd_child_watcher()

    async def main() -> Task:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, runner.request_cancel)
        try:
            return await runner.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.remove_signal_handler(sig)

    return asyncio.run(main())


def _failures(graph: AttemptGraph) -> list[tuple[str, str]]:
    return [
        (t.full_name, (t.error or {}).get("message", ""))
        for t in sorted(graph.tasks.values(), key=lambda t: t.id)
        if t.state == TaskState.ERROR
    ]


def _compiled_name(full_name: str) -> str:
    """The compiled task a (possibly generated) task belongs to: `+wf+a^sub+loop-0` → `+wf+a`."""
    return full_name.split("^", 1)[0]


def _forced(specs: list[TaskSpec], options: LocalRunOptions) -> Any:
    """Tasks that must run even if an earlier attempt succeeded (--start, --goal)."""
    target = options.start or options.goal
    if not target:
        return lambda _name: False
    index = specs.index(select_task(specs, target))
    if options.start:
        ancestors = ancestor_indexes(specs, index)
        names = {s.full_name for i, s in enumerate(specs) if i >= index and i not in ancestors}
    else:
        names = {specs[i].full_name for i in subtree_indexes(specs, index)}
    return lambda name: _compiled_name(name) in names


def _ended(specs: list[TaskSpec], options: LocalRunOptions) -> frozenset[str]:
    """Tasks treated as done without running (--end: it and all after it; --goal: all after it)."""
    if options.end:
        index = specs.index(select_task(specs, options.end))
        first = index
    elif options.goal:
        index = specs.index(select_task(specs, options.goal))
        first = max(subtree_indexes(specs, index)) + 1
    else:
        return frozenset()
    ancestors = ancestor_indexes(specs, index)
    return frozenset(s.full_name for i, s in enumerate(specs) if i >= first and i not in ancestors)


__all__ = ["LocalRunOptions", "LocalRunResult", "run_local"]
