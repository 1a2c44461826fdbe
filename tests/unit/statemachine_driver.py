"""A small driver for state-machine tests: compile a .dig text and play operator outcomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from digpy.core.language.dig.loader import load_text
from digpy.core.spi import TaskResult
from digpy.core.workflow.model import Task
from digpy.core.workflow.state_machine import AttemptGraph
from digpy.core.workflow.tree import compile_workflow

Outcome = TaskResult | dict[str, Any] | Callable[[Task], Any] | None


def graph_of(text: str, name: str = "wf") -> AttemptGraph:
    workflow = compile_workflow(name, load_text(text, f"{name}.dig"))
    graph = AttemptGraph.new(workflow.tasks, 0.0)
    graph.start(0.0)
    return graph


def fail(message: str = "boom") -> dict[str, Any]:
    return {"message": message}


def find(graph: AttemptGraph, suffix: str) -> Task:
    """The newest task whose full name ends with `suffix`."""
    found = [t for t in graph.tasks.values() if t.full_name.endswith(suffix)]
    assert found, f"no task {suffix}"
    return max(found, key=lambda t: t.id)


def ready_names(graph: AttemptGraph) -> list[str]:
    return [graph.tasks[i].full_name for i in graph.ready if graph.tasks[i].state.label == "ready"]


def resolve(graph: AttemptGraph, task: Task, outcome: Outcome, now: float) -> None:
    if callable(outcome):
        outcome = outcome(task)
    if outcome is None:
        outcome = TaskResult()
    if isinstance(outcome, TaskResult):
        if outcome.poll_after is not None:
            graph.poll_later(task, outcome.poll_after, outcome.state, now)
        else:
            graph.succeed(task, outcome, now)
    else:
        graph.fail(task, outcome, now)


def drive(graph: AttemptGraph, outcomes: dict[str, Outcome] | None = None, *, now: float = 0.0,
          limit: int = 100_000) -> list[str]:
    """Run ready tasks one at a time, in readiness order, until the root is done.

    `outcomes` maps a full-name suffix to the outcome; tasks not listed succeed. Returns the
    full names in the order their operators ran.
    """
    outcomes = outcomes or {}
    order: list[str] = []
    t = now
    for _ in range(limit):
        if graph.done:
            return order
        graph.wake(t)
        task = graph.take_ready()
        if task is None:
            due = graph.next_wake()
            assert due is not None, "stuck: nothing ready and nothing waiting"
            t = max(t, due)
            continue
        graph.mark_running(task, t)
        order.append(task.full_name)
        outcome = next((o for k, o in outcomes.items() if task.full_name.endswith(k)), None)
        resolve(graph, task, outcome, t)
    raise AssertionError("too many steps")
