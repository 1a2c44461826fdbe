"""Resuming: which tasks an attempt may skip by replaying an earlier result, and which it must run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from digpy.core.workflow.spec import TaskSpec


class ActionRecord(NamedTuple):
    """The recorded result of a task's own action, replayed when a later run skips the task."""

    store_params: dict[str, Any]
    export_params: dict[str, Any]
    reset_store: list[str]
    subtask_config: dict[str, Any] | None


class ResumePlan:
    """Which tasks a run may skip by replaying an earlier result, and which it treats as done."""

    __slots__ = ("forced", "prior")

    def __init__(self, prior: dict[str, ActionRecord] | None = None,
                 forced: Callable[[str], bool] | None = None) -> None:
        self.prior = {} if prior is None else prior
        self.forced = forced or _never

    def record_for(self, full_name: str) -> ActionRecord | None:
        record = self.prior.get(full_name)
        # The tasks of a missed SLA (`^sla`) answer this attempt's miss: they always run.
        if record is None or self.forced(full_name) or "^sla" in full_name:
            return None
        return record


def _never(_name: str) -> bool:
    return False


def _compiled_name(full_name: str) -> str:
    """The compiled task a (possibly generated) task belongs to: `+wf+a^sub+loop-0` → `+wf+a`."""
    return full_name.split("^", 1)[0]


def forced_tasks(specs: list[TaskSpec], *, start: str | None = None,
                 goal: str | None = None) -> Callable[[str], bool]:
    """Tasks that must run even if an earlier attempt succeeded (--start/--resume-from, --goal)."""
    target = start or goal
    if not target:
        return lambda _name: False
    from digpy.core.workflow.select import ancestor_indexes, select_task, subtree_indexes
    index = specs.index(select_task(specs, target))
    if start:
        ancestors = ancestor_indexes(specs, index)
        names = {s.full_name for i, s in enumerate(specs) if i >= index and i not in ancestors}
    else:
        names = {specs[i].full_name for i in subtree_indexes(specs, index)}
    return lambda name: _compiled_name(name) in names


def ended_tasks(specs: list[TaskSpec], *, end: str | None = None, goal: str | None = None) -> frozenset[str]:
    """Tasks treated as done without running (--end: it and all after it; --goal: all after it)."""
    if not end and not goal:
        return frozenset()
    from digpy.core.workflow.select import ancestor_indexes, select_task, subtree_indexes

    if end:
        index = specs.index(select_task(specs, end))
        first = index
    else:
        assert goal is not None
        index = specs.index(select_task(specs, goal))
        first = max(subtree_indexes(specs, index)) + 1
    ancestors = ancestor_indexes(specs, index)
    return frozenset(s.full_name for i, s in enumerate(specs) if i >= first and i not in ancestors)


