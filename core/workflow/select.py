"""Selecting tasks of a compiled workflow by name, and the parts of its tree around one task."""

from __future__ import annotations

from digpy.core.errors import ConfigError
from digpy.core.workflow.spec import TaskSpec


def select_task(tasks: list[TaskSpec], pattern: str) -> TaskSpec:
    """The task named `pattern` (a suffix of its full name at a `+` boundary); exactly one must match."""
    if not pattern.startswith("+"):
        pattern = "+" + pattern
    matches = [t for t in tasks if t.full_name == pattern or t.full_name.endswith(pattern)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        names = ", ".join(t.full_name for t in tasks[1:6])
        raise ConfigError(f"task '{pattern}' not found", hint=f"tasks are named like {names}")
    raise ConfigError(
        f"task '{pattern}' matches {len(matches)} tasks: " + ", ".join(t.full_name for t in matches),
        hint="give more of the name, e.g. +group+task",
    )


def subtree_indexes(tasks: list[TaskSpec], index: int) -> set[int]:
    """The index of a task and of all its descendants (the list is in pre-order)."""
    out = {index}
    for i in range(index + 1, len(tasks)):
        if tasks[i].parent in out:
            out.add(i)
        else:
            break
    return out


def ancestor_indexes(tasks: list[TaskSpec], index: int) -> set[int]:
    out = set()
    parent = tasks[index].parent
    while parent is not None:
        out.add(parent)
        parent = tasks[parent].parent
    return out


def only_subtree(tasks: list[TaskSpec], index: int) -> list[TaskSpec]:
    """The task list reduced to the root, the ancestors of `tasks[index]` and its subtree.

    Ancestors keep their `_export`, so the task sees the params it would see in a whole run.
    """
    keep = sorted(ancestor_indexes(tasks, index) | subtree_indexes(tasks, index))
    new_index = {old: new for new, old in enumerate(keep)}
    out = []
    for old in keep:
        spec = tasks[old]
        out.append(TaskSpec(
            name=spec.name, full_name=spec.full_name,
            parent=new_index[spec.parent] if spec.parent is not None else None,
            upstreams=[new_index[u] for u in spec.upstreams if u in new_index],
            is_group=spec.is_group, config=spec.config, export=spec.export,
        ))
    return out
