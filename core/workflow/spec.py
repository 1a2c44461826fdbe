"""The compiled workflow model every front end produces: task specs with typed directives.

A front end (`.dig`, Dagu YAML) compiles a file into a `Workflow`: a flat list of `TaskSpec` in
pre-order (a task before its children, siblings in declaration order), dependencies given as
indexes of earlier siblings. What a task's directives ask of the state machine (retry, the
`_error` and `_check` subtrees, `_disable`) is read once, when the task is compiled, into
`Directives`; a bad directive is a load error with its location, never a surprise at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from digpy.core.errors import Location
from digpy.core.workflow.queue import NO_LIMITS, AttemptLimits
from digpy.core.workflow.retention import NO_RETENTION, Retention

if TYPE_CHECKING:
    from digpy.core.errors import UnknownOperator
    from digpy.core.workflow.retry import RetryPolicy
    from digpy.core.workflow.sla import Sla


class Directives:
    """The directives of one task that the state machine acts on (read-only once made).

    retry: the literal retry policy (`_retry`), or None when there is none or when it is an
        expression (`retry_templated`: the runner evaluates it with the task's params).
    error / check / cancel: the compiled `_error` / `_check` / `_cancel` subtree (root first), or None.
    disable: `_disable: true`: the task succeeds without running.
    sla: `_sla`: how long the task may take from its first start, and what a miss sets off.
    continue_failure: `_continue_on: {failure: true}` of a group, or of an operator task that generates
        tasks: it ends in success although a task in it failed (after its retries and its `_error`),
        and the tasks after it run.
    running: `_parallel: {running: N}` of a group: at most N of its children run at once.
    start_interval: `_start_interval` of a group: seconds between the starts of two of its children.
    timeout: `_timeout` of a group: seconds from its start after which its running tasks are killed
        and it fails.
    (A plain class: a NamedTuple costs ~0.7 M instructions to create, at every start-up.)
    """

    __slots__ = ("cancel", "check", "continue_failure", "disable", "error", "retry", "retry_templated", "running",
                 "sla", "start_interval", "timeout")

    def __init__(self, retry: RetryPolicy | None = None, retry_templated: bool = False,
                 error: tuple[TaskSpec, ...] | None = None, check: tuple[TaskSpec, ...] | None = None,
                 disable: bool = False, sla: Sla | None = None, cancel: tuple[TaskSpec, ...] | None = None,
                 continue_failure: bool = False, running: int | None = None, start_interval: float = 0.0,
                 timeout: float | None = None) -> None:
        self.retry = retry
        self.retry_templated = retry_templated
        self.error = error
        self.check = check
        self.disable = disable
        self.sla = sla
        self.cancel = cancel
        self.continue_failure = continue_failure
        self.running = running
        self.start_interval = start_interval
        self.timeout = timeout

    @property
    def gated(self) -> bool:
        """Whether the starts of the group's children are paced (`running` or `start_interval`)."""
        return self.running is not None or self.start_interval > 0

    def __reduce__(self) -> Any:  # the compiled-workflow cache pickles specs
        return (Directives, (self.retry, self.retry_templated, self.error, self.check, self.disable, self.sla,
                             self.cancel, self.continue_failure, self.running, self.start_interval, self.timeout))


NO_DIRECTIVES = Directives()


@dataclass(slots=True)
class TaskSpec:
    """One compiled task: a group (children, no operator) or an operator task."""

    name: str  # "+step", or "^sub"/"^error"/"^check" for a generated root
    full_name: str  # "+wf+group+step"
    parent: int | None  # index of the parent in the task list
    upstreams: list[int] = field(default_factory=list)  # indexes of sibling tasks this one waits for
    is_group: bool = False
    config: dict[str, Any] = field(default_factory=dict)  # own keys: params and directives, plain JSON
    export: dict[str, Any] = field(default_factory=dict)  # _export
    location: Location | None = None  # where the task (its operator key) is written
    directives: Directives = NO_DIRECTIVES

    @property
    def operator(self) -> str | None:
        """The operator name of an operator task (`sh` for `sh>:`)."""
        return None if self.is_group else self.config.get("_type")


@dataclass(slots=True)
class Workflow:
    """A compiled workflow: its name, time zone, schedule config and task list (root first)."""

    name: str
    timezone: str
    tasks: list[TaskSpec]
    config: dict[str, Any]  # the whole workflow config as plain data (what the server stores)
    schedule: dict[str, Any] | None = None
    schedule_location: Location | None = None
    location: Location | None = None
    sla: Sla | None = None  # `sla:`: the attempt's deadline and what a miss sets off
    # `file:LINE:COL: message` of each ${...} that does not compile (filled by Project.load)
    expression_errors: list[str] = field(default_factory=list)
    uses_javascript: bool = False  # a `${...}` of the file is more than a plain reference
    # Compiled leniently: the operators no plugin provides (see tree.unknown_operator_warning).
    unknown_operators: list[UnknownOperator] = field(default_factory=list)
    limits: AttemptLimits = NO_LIMITS  # `queue:` and `max_active_attempts:` (the server's)
    retention: Retention = NO_RETENTION  # `retention:` (the server's history of it)

    @property
    def task_count(self) -> int:
        return len(self.tasks)


class OperatorSet(frozenset[str]):
    """The names of the operators a compiler knows, and which of them have the traits the engine acts
    on (see digpy.core.spi.Operator): `adds_tasks` and `calls_workflow`."""

    adds_tasks: frozenset[str]
    calls_workflow: frozenset[str]

    def __new__(cls, names: Iterable[str], *, adds_tasks: Iterable[str] = (),
                calls_workflow: Iterable[str] = ()) -> OperatorSet:
        self = super().__new__(cls, names)
        self.adds_tasks = frozenset(adds_tasks)
        self.calls_workflow = frozenset(calls_workflow)
        return self

    def __reduce__(self) -> Any:
        return (_operator_set, (sorted(self), sorted(self.adds_tasks), sorted(self.calls_workflow)))


def _operator_set(names: list[str], adds_tasks: list[str], calls_workflow: list[str]) -> OperatorSet:
    return OperatorSet(names, adds_tasks=adds_tasks, calls_workflow=calls_workflow)


__all__ = ["NO_DIRECTIVES", "Directives", "OperatorSet", "TaskSpec", "Workflow"]
