"""The runtime task model: Digdag's task states and flags, and one task of an attempt."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from digpy.core.workflow.spec import NO_DIRECTIVES, Directives


class TaskState(enum.IntEnum):
    """Digdag's ten task states, with Digdag's numbers."""

    BLOCKED = 0
    READY = 1
    RETRY_WAITING = 2
    GROUP_RETRY_WAITING = 3
    RUNNING = 4
    PLANNED = 5
    GROUP_ERROR = 6
    SUCCESS = 7
    ERROR = 8
    CANCELED = 9

    @property
    def label(self) -> str:
        """The lower-case name used in the API and the CLI (`group_error`)."""
        return self.name.lower()

    @property
    def is_done(self) -> bool:
        return self in DONE_STATES


DONE_STATES = frozenset({TaskState.GROUP_ERROR, TaskState.SUCCESS, TaskState.ERROR, TaskState.CANCELED})
FAILED_STATES = frozenset({TaskState.GROUP_ERROR, TaskState.ERROR, TaskState.CANCELED})


class TaskFlags:
    """Digdag's task flags, as plain ints (a task stores their sum; IntFlag arithmetic is slow)."""

    NONE = 0
    CANCEL_REQUESTED = 1
    DELAYED_ERROR = 2
    DELAYED_GROUP_ERROR = 4
    INITIAL_TASK = 8


@dataclass(slots=True, eq=False)
class Task:
    """One task of an attempt, as stored, plus in-memory links kept by the state machine."""

    id: int
    parent_id: int | None
    name: str  # "+step" or a generated "^sub" / "^error" / "^check"
    full_name: str
    is_group: bool
    config: dict[str, Any]
    export: dict[str, Any]
    upstreams: list[int]
    state: TaskState = TaskState.BLOCKED
    flags: int = 0
    retry_count: int = 0
    retry_at: float | None = None
    started_at: float | None = None
    updated_at: float = 0.0
    state_params: dict[str, Any] = field(default_factory=dict)
    # Results of the task's own action.
    store_params: dict[str, Any] = field(default_factory=dict)
    export_params: dict[str, Any] = field(default_factory=dict)
    reset_store: list[str] = field(default_factory=list)
    subtask_config: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    # In-memory, rebuilt when an attempt is loaded.
    directives: Directives = NO_DIRECTIVES  # read from `config` when the task was compiled
    children: list[int] = field(default_factory=list)  # the newest copy of each child, in creation order
    downstreams: list[int] = field(default_factory=list)
    pending_upstreams: int = 0
    dead: bool = False  # blocked for good: an upstream ended without success
    live_children: int = 0  # children neither done nor dead
    # Memoized store propagation (see digpy.core.workflow.params); valid once the task is done.
    chain_store: dict[str, Any] | None = None

    @property
    def is_done(self) -> bool:
        return self.state in DONE_STATES

    @property
    def cancel_requested(self) -> bool:
        return bool(self.flags & TaskFlags.CANCEL_REQUESTED)

    @property
    def operator(self) -> str | None:
        """The operator name of an operator task (`sh` for `sh>:`)."""
        return None if self.is_group else self.config.get("_type")
