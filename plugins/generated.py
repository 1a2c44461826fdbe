"""Helpers shared by the operators that generate child tasks (loop>, for_each>, for_range>, if>)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from digpy.core.spi import ConfigError
from digpy.core.spi import parallel as read_parallel

# The most children one operator may generate: a sanity bound, far above Digdag's 1,000 tasks per
# attempt (digpy has no per-attempt limit), that stops a mistyped count before it fills the memory
# (a task costs ~2.2 kB: one million children ~2.2 GB).
MAX_CHILDREN = 1_000_000


def check_count(count: int, operator: str) -> None:
    """Refuse to generate more than MAX_CHILDREN children."""
    if count > MAX_CHILDREN:
        raise ConfigError(f"{operator}> would generate {count:,} tasks; one operator generates at most "
                          f"{MAX_CHILDREN:,}", hint="split the work, e.g. into nested loops")


def body(params: Mapping[str, Any], key: str, operator: str) -> dict[str, Any]:
    """The task config under `_do` (or `_else_do`): required and a mapping."""
    value = params.get(key)
    if value is None:
        raise ConfigError(f"{operator}> needs {key}: the task to run (e.g. {key}: {{echo>: hi}})")
    if not isinstance(value, dict):
        raise ConfigError(f"{operator}> {key} must be a task (a mapping), got {type(value).__name__}")
    return value


def parallel(params: Mapping[str, Any], operator: str) -> bool | dict[str, int] | None:
    """`_parallel` after `${...}` evaluation, as the generated group's config writes it."""
    if "_parallel" not in params:
        return None
    value = params["_parallel"]
    on, limit = read_parallel(value, f"{operator}> _parallel")
    if isinstance(value, Mapping) and "running" in value:  # at most N at once (checked by read_parallel)
        return {"running": value["running"]}
    return {"limit": limit} if limit is not None else on


def children(
    do: Mapping[str, Any], items: Iterable[tuple[str, Mapping[str, Any]]], parallel_value: Any,
) -> dict[str, Any]:
    """A group config: one child per (name, exports) item, each a copy of `do` with the exports
    added to its `_export`."""
    out: dict[str, Any] = {}
    for name, exports in items:
        child = copy.deepcopy(dict(do))
        child["_export"] = {**(child.get("_export") or {}), **exports}
        out[name] = child
    if parallel_value is not None:
        out["_parallel"] = parallel_value
    return out
