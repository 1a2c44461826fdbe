"""One attempt assembly for every caller: `digpy run`, the server's executor and the scheduler.

A caller knows where an attempt comes from (a local session, a claimed row, a schedule slot) and
where its output goes; everything else is the same for all of them and is done here: the
session's built-in variables, the task graph (new, or the stored one of an attempt taken over),
the runner, and what happens when the attempt ends (its state stored, failure hooks called).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digpy.core.engine.runner import AttemptRunner, Offload, Output, RunSettings
from digpy.core.language.builtins import format_session_time, session_variables
from digpy.core.language.expression import TemplateEngine
from digpy.core.plugin_manager import Registry
from digpy.core.spi import FailedAttempt, SecretProvider, Sessions, SlaMiss
from digpy.core.store.sql import Store
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.resume import ResumePlan
from digpy.core.workflow.spec import TaskSpec, Workflow
from digpy.core.workflow.state_machine import AttemptGraph, MissedDeadline


class AttemptInfo:
    """The stored facts of an attempt that its tasks see as built-in variables."""

    __slots__ = ("attempt_id", "attempt_name", "last_executed_session_time", "params", "project_id",
                 "project_name", "run_time", "session_id", "session_time", "session_uuid")

    def __init__(self, *, attempt_id: int, session_id: int, session_uuid: str, project_id: int,
                 project_name: str, session_time: datetime, params: Mapping[str, Any],
                 attempt_name: str | None = None, last_executed_session_time: datetime | None = None,
                 run_time: float | None = None) -> None:
        self.attempt_id = attempt_id
        self.session_id = session_id
        self.session_uuid = session_uuid
        self.project_id = project_id
        self.project_name = project_name  # the project's name (local runs: the directory's)
        self.session_time = session_time  # in the workflow's time zone
        self.params = params
        self.attempt_name = attempt_name  # `retry_attempt_name`
        self.last_executed_session_time = last_executed_session_time
        # When the attempt was to run (epoch; default: now): what the workflow's `sla:` counts from.
        self.run_time = time.time() if run_time is None else run_time


def builtins(workflow: Workflow, info: AttemptInfo) -> dict[str, Any]:
    """The built-in variables of an attempt (`session_time`, `next_session_time`, `attempt_id`, ...)."""
    from digpy.core.workflow.schedule import parse_schedule

    schedule = (parse_schedule(workflow.schedule, workflow.timezone, workflow.schedule_location)
                if workflow.schedule is not None else None)
    out = session_variables(info.session_time, workflow.timezone, schedule=schedule,
                            last_executed_session_time=info.last_executed_session_time)
    out.update(attempt_id=info.attempt_id, session_id=info.session_id, session_uuid=info.session_uuid,
               project_id=info.project_id, retry_attempt_name=info.attempt_name)
    return out


def new_graph(specs: Sequence[TaskSpec], *, ended: frozenset[str] = frozenset()) -> AttemptGraph:
    """The task graph of a new attempt; tasks named in `ended` count as done without running."""
    graph = AttemptGraph.new(specs, time.time())
    graph.no_op_names = ended
    return graph


def stored_graph(store: Store, attempt_id: int, specs: Sequence[TaskSpec]) -> AttemptGraph:
    """The graph of an attempt as stored (one taken over from another runner), or a new one."""
    if store.has_tasks(attempt_id):
        return AttemptGraph.load(store.load_tasks(attempt_id), time.time())
    return new_graph(specs)


def assemble(
    workflow: Workflow, info: AttemptInfo, graph: AttemptGraph, *, store: Store, registry: Registry,
    templates: TemplateEngine, project_dir: Path, output: Output, plan: ResumePlan | None = None,
    secret_providers: Sequence[SecretProvider] | None = None, sessions: Sessions | None = None,
    settings: RunSettings | None = None, secrets_project: str | None = None, offload: Offload | None = None,
    owner: str | None = None,
) -> AttemptRunner:
    """A runner for an attempt, ready to `run()`. `secrets_project` is the project name secret
    providers are asked for (None for local runs, whose secrets belong to the user); `offload` runs
    the store's work (in a thread on the server), and `owner` is the node whose lease each write
    checks (the server)."""
    if workflow.sla is not None:
        graph.attempt_sla = (workflow.sla, workflow.sla.deadline(info.run_time, workflow.timezone))
    return AttemptRunner(
        store=store, attempt_id=info.attempt_id, graph=graph, registry=registry, templates=templates,
        base_params=info.params, builtins=builtins(workflow, info), timezone=workflow.timezone,
        project_dir=project_dir, output=output, plan=plan,
        secret_providers=registry.secret_providers() if secret_providers is None else secret_providers,
        project_name=secrets_project, sessions=sessions, settings=settings, offload=offload, owner=owner,
        on_sla_miss=partial(_alert, registry, workflow, info),
    )


def _alert(registry: Registry, workflow: Workflow, info: AttemptInfo, miss: MissedDeadline) -> None:
    """Tell the `digpy_notify_sla` hooks of a missed SLA."""
    deadline = datetime.fromtimestamp(miss.deadline, ZoneInfo(workflow.timezone))
    registry.notify_sla(SlaMiss(
        project=info.project_name, workflow=workflow.name, session_time=format_session_time(info.session_time),
        attempt_id=info.attempt_id, task=miss.task.full_name, deadline=deadline.isoformat(timespec="seconds"),
        message=miss.message, fail=miss.sla.fail,
    ))


def partly_failed(graph: Any) -> bool:
    """Whether a task of a graph failed under `_continue_on` (its own failure, kept as `continued`, or
    one in a group or generated tasks that went on): Dagu's "partially succeeded"."""
    return any(t.state in (TaskState.ERROR, TaskState.GROUP_ERROR) or (t.error or {}).get("continued") is True
               for t in graph.tasks.values())


async def run_attempt(runner: AttemptRunner, workflow: Workflow, info: AttemptInfo, *, store: Store,
                      registry: Registry) -> TaskState:
    """Run an assembled attempt to its end, store how it ended and tell the failure hooks.

    On the server a write may raise LeaseLost (another node took the attempt over): it propagates,
    and the caller stops the attempt's operators without touching its state."""
    root = await runner.run()
    success = root.state == TaskState.SUCCESS
    await runner.offload(partial(store.finish_attempt, info.attempt_id, success=success,
                                 canceled=root.state == TaskState.CANCELED, owner=runner.owner,
                                 partial=success and partly_failed(runner.graph)))
    if not success:
        registry.notify_failure(FailedAttempt(
            project=info.project_name, workflow=workflow.name, session_time=format_session_time(info.session_time),
            attempt_id=info.attempt_id, state=root.state.label, failures=tuple(failures(runner.graph)),
        ))
    return root.state


def failures(graph: AttemptGraph) -> list[tuple[str, str]]:
    """(name, message) of each task that ended in error; a task that a group `_retry` ran again is
    listed once, with its last error."""
    found: dict[str, str] = {}
    for t in sorted(graph.tasks.values(), key=lambda t: t.id):
        if t.state == TaskState.ERROR:
            found.pop(t.full_name, None)  # a later copy: its place in the list moves too
            found[t.full_name] = (t.error or {}).get("message", "")
    return list(found.items())


__all__ = ["AttemptInfo", "assemble", "builtins", "failures", "new_graph", "run_attempt", "stored_graph"]
