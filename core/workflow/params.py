"""The parameters a task sees, merged in Digdag's order (lowest first):

defaults < session params (-p, -P) < for each level from the root down to the task:
[stores of the level's transitive upstream siblings and their descendants (id order),
then the level's `_export` and runtime exports, then the level's own store]
< the task's own `_export` < built-ins < the task's own keys.

Merges are deep: nested mappings merge, everything else replaces. Store visibility is memoized
per finished task (`chain_store`), so a sequential chain of N tasks costs O(N), not O(N²).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from digpy.core.workflow.model import Task
from digpy.core.workflow.state_machine import AttemptGraph

_EMPTY: dict[str, Any] = {}


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: `over` merged onto `base`; neither argument is changed."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = deep_merge(current, value)
        else:
            out[key] = value
    return out


def merge_into(target: dict[str, Any], over: Mapping[str, Any]) -> None:
    """Merge `over` onto `target` in place (nested mappings of `target` are replaced, not changed)."""
    for key, value in over.items():
        current = target.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            target[key] = deep_merge(current, value)
        else:
            target[key] = value


def set_dotted(target: dict[str, Any], dotted: str, value: Any) -> None:
    """`a.b.c=v` → {"a": {"b": {"c": v}}} merged into target (for `-p a.b.c=v`)."""
    parts = dotted.split(".")
    node = target
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _remove_dotted(target: dict[str, Any], dotted: str) -> dict[str, Any]:
    parts = dotted.split(".")
    if parts[0] not in target:
        return target
    out = dict(target)
    if len(parts) == 1:
        del out[parts[0]]
    elif isinstance(out[parts[0]], Mapping):
        out[parts[0]] = _remove_dotted(dict(out[parts[0]]), ".".join(parts[1:]))
    return out


def apply_store(accumulated: dict[str, Any], task: Task) -> dict[str, Any]:
    """The stores visible after `task`'s own action: its resets, then its store params."""
    result = accumulated
    for key in task.reset_store:
        result = _remove_dotted(result, key)
    if task.store_params:
        result = deep_merge(result, task.store_params)
    return result


def _chain(graph: AttemptGraph, task: Task) -> dict[str, Any]:
    """Stores visible to a task that runs after `task` (a downstream sibling).

    Iterative over the upstream graph, so a long chain of tasks that ran without anyone asking
    for their params (skipped on resume) does not recurse deeply.
    """
    if task.chain_store is not None:
        return task.chain_store
    computed: dict[int, dict[str, Any]] = {}
    stack = [task]
    while stack:
        current = stack[-1]
        if current.id in computed:
            stack.pop()
            continue
        missing = [
            graph.tasks[u] for u in current.upstreams
            if graph.tasks[u].chain_store is None and u not in computed
        ]
        if missing:
            stack.extend(missing)
            continue
        stack.pop()
        value = _with_subtree_stores(graph, current, _sibling_store(graph, current, computed))
        computed[current.id] = value
        if current.is_done:
            current.chain_store = value
    return computed[task.id]


def _with_subtree_stores(graph: AttemptGraph, task: Task, result: dict[str, Any]) -> dict[str, Any]:
    """`result` with the stores of `task` and its subtree applied in declaration order: a task, then
    its children in their order (not by id: children generated at run time get ids in the order
    their generators finished, which for parallel generators changes from run to run)."""
    if task.children or task.store_params or task.reset_store:
        stack = [task]
        while stack:
            current = stack.pop()
            result = apply_store(result, current)
            stack.extend(graph.tasks[child] for child in reversed(current.children))
    return result


def _sibling_store(
    graph: AttemptGraph, task: Task, computed: dict[int, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Stores of `task`'s transitive upstream siblings and all their descendants."""
    if not task.upstreams:
        return _EMPTY
    chains = []
    for up in sorted(task.upstreams):
        upstream = graph.tasks[up]
        if upstream.chain_store is not None:
            chains.append(upstream.chain_store)
        elif computed is not None and up in computed:
            chains.append(computed[up])
        else:
            chains.append(_chain(graph, upstream))
    if len(chains) == 1:
        return chains[0]
    result: dict[str, Any] = _EMPTY
    for chain in chains:
        if chain:
            result = chain if result is _EMPTY else deep_merge(result, chain)
    return result


def task_params(
    graph: AttemptGraph,
    task: Task,
    *,
    base: Mapping[str, Any],
    builtins: Mapping[str, Any],
    data: set[str] | None = None,
) -> dict[str, Any]:
    """Every param `task` sees, before `${...}` evaluation. `base` = defaults merged with session params.

    `data`, if given, receives the keys whose value comes only from what tasks stored or exported
    at run time, an error (`error` of `^error` tasks) or the built-ins: data, never templates, so a
    `${` in a command's output or an error message is never evaluated. A mapping of the workflow
    (`_export: {pg: {...}}`) that a store deep-merges into stays a template."""
    data = set() if data is None else data
    out = dict(base)

    def merge(layer: Mapping[str, Any], *, is_data: bool) -> None:
        mark(layer, is_data=is_data)
        merge_into(out, layer)

    def mark(layer: Mapping[str, Any], *, is_data: bool) -> None:
        for key, value in layer.items():
            if not is_data:
                data.discard(key)
            elif key in data or not (isinstance(value, Mapping) and isinstance(out.get(key), Mapping)):
                data.add(key)  # data merged into data, or a value replaced whole: data
            # else data merged into a mapping written in the workflow: the key stays a template

    for node in [*graph.ancestors(task), task]:
        siblings = _sibling_store(graph, node)
        if siblings:
            merge(siblings, is_data=True)
        if node is task:
            break
        if node.export:
            merge(node.export, is_data=False)
        if node.export_params:
            merge(node.export_params, is_data=True)
        if node.store_params or node.reset_store:
            mark(node.store_params, is_data=True)
            out = apply_store(out, node)
    if task.export_params and task.name.startswith("^error"):  # the error and stores it was given
        merge(task.export_params, is_data=True)
    if task.export:
        merge(task.export, is_data=False)
    out.update(builtins)
    data.update(builtins)
    merge(task.config, is_data=False)
    return out
