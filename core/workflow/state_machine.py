"""The task state machine of one attempt: pure transitions, no I/O.

The graph holds every task of an attempt in memory and moves them through Digdag's states:

- a task is *activated* when its parent is planned and every upstream sibling succeeded:
  a group goes blocked → planned and activates its children; an operator task goes → ready;
- the runner takes ready tasks, marks them running and reports how the operator ended
  (`succeed`, `fail`, `poll_later`, `canceled`);
- a planned task is *evaluated* once no child can progress any more (every child is done, or
  blocked behind an upstream that failed): cancel → `^cancel` (a group's `_cancel`, run once)
  then canceled, delayed error → error/group_error,
  a failed child → retry, `^error`, or group_error; otherwise `^check` once, then success;
- an SLA (the attempt's `sla:`, a task's `_sla`) is a deadline: if it passes while the attempt or
  task is not done, the task is flagged, the `^sla` group is added under the root (it ends in
  error with `fail: true`, failing the attempt once its running tasks are done) and the miss is
  reported to the caller (`take_sla_misses`), who sends the alert;
- a group's `_timeout` is a deadline from its start: if it passes while the group is not done, every
  task under it is canceled (the running ones are handed to the caller to stop: `take_to_stop`,
  as a kill does) and the group ends in error once they have stopped, after its `_error`;
- a group with `_parallel: {running: N}` or `_start_interval` paces its children through a gate
  (digpy.core.workflow.gate): a child that could start waits for a free slot or for its turn.

Work is driven by a queue, not by scanning, so each transition costs O(1) amortised and an
attempt of 100,000 tasks runs in linear time. Every change is recorded in `created`/`changed`
for the caller to persist before acting on it.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from digpy.core.errors import DigpyError
from digpy.core.spi import TaskResult
from digpy.core.workflow.gate import Gate
from digpy.core.workflow.model import FAILED_STATES, Task, TaskFlags, TaskState
from digpy.core.workflow.retry import NO_RETRY, RetryPolicy
from digpy.core.workflow.sla import Sla
from digpy.core.workflow.spec import NO_DIRECTIVES, TaskSpec

# Our own flags, above Digdag's: an older copy of a child, replaced by a retry; a task (the root,
# for the attempt's `sla:`) whose SLA was missed, so that it is not missed twice; a group whose
# `_timeout` passed.
SUPERSEDED = 16
SLA_MISSED = 32
TIMED_OUT = 64


class MissedDeadline(NamedTuple):
    """An SLA that was missed: the task watched (the root for the attempt's), the SLA, its deadline."""

    task: Task
    sla: Sla
    deadline: float

    @property
    def message(self) -> str:
        return f"{self.task.full_name} did not finish {self.sla.written}"

_ACTIVATE, _FINISHED, _EVALUATE = 0, 1, 2


class AttemptGraph:
    """All tasks of one attempt and the rules that move them."""

    def __init__(self) -> None:
        self.tasks: dict[int, Task] = {}
        self.root_id = 1
        self.next_id = 1
        self.ready: deque[int] = deque()
        self.created: list[Task] = []
        self.changed: dict[int, Task] = {}
        self.no_op_names: frozenset[str] = frozenset()
        self.attempt_sla: tuple[Sla, float] | None = None  # the workflow's `sla:` and its deadline
        self.sla_misses: list[MissedDeadline] = []  # missed since the last take_sla_misses()
        self._timers: list[tuple[float, int]] = []
        self._deadlines: list[tuple[float, int]] = []  # SLA deadlines (epoch, task id)
        self._timeouts: list[tuple[float, int]] = []  # groups' `_timeout` deadlines (epoch, group id)
        self._gates: dict[int, Gate] = {}  # group id → the gate its children pass (gated groups only)
        self._openings: list[tuple[float, int]] = []  # when a gate's interval lets a child start (epoch, group id)
        self.to_stop: list[Task] = []  # running tasks a timeout canceled, for the caller to stop
        self._work: deque[tuple[int, int]] = deque()
        self._now = 0.0

    # ----------------------------------------------------------------- building

    @classmethod
    def new(cls, specs: Sequence[TaskSpec], now: float) -> AttemptGraph:
        """A new attempt from a compiled workflow (root first); every task starts blocked."""
        graph = cls()
        graph._now = now
        root = graph._instantiate(None, specs, initial=True)
        graph.root_id = root.id
        return graph

    @classmethod
    def load(cls, tasks: Iterable[Task], now: float) -> AttemptGraph:
        """Rebuild an attempt from stored tasks; tasks that were running are made ready again."""
        graph = cls()
        graph._now = now
        ordered = sorted(tasks, key=lambda t: t.id)
        from digpy.core.workflow.tree import directives_of

        for task in ordered:
            task.children, task.downstreams = [], []
            task.directives = directives_of(task.config, task.full_name)
            graph.tasks[task.id] = task
        graph.root_id = ordered[0].id
        graph.next_id = ordered[-1].id + 1
        for task in ordered:
            if task.parent_id is not None and not task.flags & SUPERSEDED:
                graph.tasks[task.parent_id].children.append(task.id)
            for up in task.upstreams:
                graph.tasks[up].downstreams.append(task.id)
        for task in ordered:  # upstreams always have smaller ids than their downstreams
            ups = [graph.tasks[up] for up in task.upstreams]
            task.pending_upstreams = sum(1 for up in ups if up.state != TaskState.SUCCESS)
            task.dead = task.state == TaskState.BLOCKED and any(
                up.dead or (up.is_done and up.state != TaskState.SUCCESS) for up in ups
            )
        for task in ordered:
            task.live_children = sum(1 for c in task.children if graph._is_live(graph.tasks[c]))
            if task.is_group and task.directives.gated and task.state in (
                    TaskState.PLANNED, TaskState.GROUP_RETRY_WAITING):
                graph._gates[task.id] = graph._rebuilt_gate(task)
            if task.state == TaskState.RUNNING:
                graph._set(task, TaskState.READY)
            if task.state == TaskState.READY and task.cancel_requested:  # e.g. stopped by a `_timeout`
                graph._finish(task, TaskState.CANCELED)
            elif task.state == TaskState.READY:
                graph.ready.append(task.id)
            elif task.state in (TaskState.RETRY_WAITING, TaskState.GROUP_RETRY_WAITING):
                heapq.heappush(graph._timers, (task.retry_at or now, task.id))
            elif task.state == TaskState.PLANNED and task.live_children == 0:
                graph._work.append((_EVALUATE, task.id))
            elif task.state == TaskState.BLOCKED and not task.dead and task.pending_upstreams == 0:
                parent = graph.tasks.get(task.parent_id) if task.parent_id is not None else None
                if parent is None or parent.state == TaskState.PLANNED:
                    graph._work.append((_ACTIVATE, task.id))
            if task.started_at is not None:
                graph._watch(task)
        graph._drain()
        return graph

    @staticmethod
    def _is_live(task: Task) -> bool:
        return not task.is_done and not task.dead

    def _rebuilt_gate(self, group: Task) -> Gate:
        """The gate of a stored gated group: its started children hold their slots again."""
        gate = Gate(group.directives.running, group.directives.start_interval)
        starts = []
        for child_id in group.children:
            child = self.tasks[child_id]
            if child.state != TaskState.BLOCKED and not child.is_done:
                gate.active.add(child_id)
                starts.append(child.started_at or child.updated_at)
        gate.last_start = max(starts) if starts else None
        return gate

    # ----------------------------------------------------------------- queries

    @property
    def root(self) -> Task:
        return self.tasks[self.root_id]

    @property
    def done(self) -> bool:
        return self.root.is_done

    def parent(self, task: Task) -> Task | None:
        return self.tasks[task.parent_id] if task.parent_id is not None else None

    def ancestors(self, task: Task) -> list[Task]:
        """Root first, the task's parent last."""
        out = []
        current = self.parent(task)
        while current is not None:
            out.append(current)
            current = self.parent(current)
        out.reverse()
        return out

    def next_wake(self) -> float | None:
        """When the earliest waiting task or SLA deadline is due, if any."""
        due: float | None = None
        while self._timers:
            at, task_id = self._timers[0]
            task = self.tasks[task_id]
            if task.state in (TaskState.RETRY_WAITING, TaskState.GROUP_RETRY_WAITING) and task.retry_at == at:
                due = at
                break
            heapq.heappop(self._timers)
        if self._timeouts or self._openings:
            due = self._next_paced(due)
        while self._deadlines:
            at, task_id = self._deadlines[0]
            if self._watched(self.tasks[task_id]):
                return at if due is None else min(at, due)
            heapq.heappop(self._deadlines)
        return due

    def _next_paced(self, due: float | None) -> float | None:
        """`due`, or the earliest group timeout or gate opening if sooner."""
        while self._timeouts:
            at, group_id = self._timeouts[0]
            if self._times_out(self.tasks[group_id]):
                due = at if due is None else min(at, due)
                break
            heapq.heappop(self._timeouts)
        while self._openings:
            at, group_id = self._openings[0]
            if self._gates[group_id].opening == at:
                due = at if due is None else min(at, due)
                break
            heapq.heappop(self._openings)
        return due

    def take_to_stop(self) -> list[Task]:
        """The running tasks a `_timeout` canceled since the last call: the caller stops them (as a
        kill does) and reports each with `canceled`."""
        tasks, self.to_stop = self.to_stop, []
        return tasks

    def take_sla_misses(self) -> list[MissedDeadline]:
        """The SLAs missed since the last call (to be alerted once their changes are stored)."""
        misses, self.sla_misses = self.sla_misses, []
        return misses

    def take_changes(self) -> tuple[list[Task], list[Task]]:
        """The tasks created and the tasks changed since the last call (created ones are not repeated)."""
        created = self.created
        created_ids = {t.id for t in created}
        changed = [t for t in self.changed.values() if t.id not in created_ids]
        self.created, self.changed = [], {}
        return created, changed

    # ----------------------------------------------------------------- transitions

    def start(self, now: float) -> None:
        """Begin the attempt: activate the root and watch the attempt's SLA (`attempt_sla`)."""
        self._now = now
        if self.attempt_sla is not None and self._watched(self.root):
            heapq.heappush(self._deadlines, (self.attempt_sla[1], self.root_id))
        if self.root.state == TaskState.BLOCKED:
            self._work.append((_ACTIVATE, self.root_id))
        self._drain()

    def wake(self, now: float) -> None:
        """Wake every waiting task whose time has come, and act on every SLA missed by now."""
        self._now = now
        while self._deadlines and self._deadlines[0][0] <= now:
            at, task_id = heapq.heappop(self._deadlines)
            task = self.tasks[task_id]
            sla = self._sla_of(task)
            if sla is not None and self._watched(task):
                self._miss(task, sla, at)
        while self._timeouts and self._timeouts[0][0] <= now:
            at, group_id = heapq.heappop(self._timeouts)
            if self._times_out(self.tasks[group_id]):
                self._time_out(self.tasks[group_id])
        while self._openings and self._openings[0][0] <= now:
            at, group_id = heapq.heappop(self._openings)
            gate = self._gates[group_id]
            if gate.opening == at:
                gate.opening = None
                self._open(group_id, gate)
        while self._timers and self._timers[0][0] <= now:
            at, task_id = heapq.heappop(self._timers)
            task = self.tasks[task_id]
            if task.retry_at != at:
                continue
            if task.state == TaskState.RETRY_WAITING:
                self._supersede_children(task)
                self._set(task, TaskState.READY)
                task.retry_at = None
                self.ready.append(task.id)
            elif task.state == TaskState.GROUP_RETRY_WAITING:
                task.retry_at = None
                self._set(task, TaskState.PLANNED)
                self._copy_children(task)
                self._start_children(task)
        self._drain()

    def take_ready(self) -> Task | None:
        """The next ready operator task, or None."""
        while self.ready:
            task = self.tasks[self.ready.popleft()]
            if task.state == TaskState.READY:
                return task
        return None

    def mark_running(self, task: Task, now: float) -> None:
        self._now = now
        self._expect(task, TaskState.READY)
        first = task.started_at is None
        task.started_at = task.started_at or now
        self._set(task, TaskState.RUNNING)
        if first:
            self._watch(task)

    def succeed(self, task: Task, result: TaskResult, now: float, *,
                kept_error: Mapping[str, Any] | None = None) -> None:
        """The operator of `task` ended well: record its result and generate `^sub` if asked.
        `kept_error`: it failed under `_continue_on` (a success that keeps its error, `continued: true`)."""
        self._now = now
        self._expect(task, TaskState.RUNNING)
        specs = None
        if result.subtasks is not None:
            from digpy.core.workflow.tree import compile_tree  # only operators that generate tasks need it

            try:
                specs = compile_tree("^sub", task.full_name + "^sub", dict(result.subtasks))
            except DigpyError as e:
                self.fail(task, {"message": f"invalid generated tasks: {e}"}, now, allow_retry=False)
                return
        task.store_params = dict(result.stores)
        task.export_params = {**task.export_params, **result.exports}  # an ^error root keeps its error
        task.reset_store = list(result.reset_stores)
        task.subtask_config = dict(result.subtasks) if result.subtasks is not None else None
        task.state_params = {}
        task.error = dict(kept_error) if kept_error else None
        self._set(task, TaskState.PLANNED)
        if specs is not None:
            self._instantiate(task, specs, initial=False)
        self._start_children(task)
        self._drain()

    def fail(self, task: Task, error: Mapping[str, Any], now: float, *,
             retry: RetryPolicy | None = None, allow_retry: bool = True) -> None:
        """The operator of `task` failed: retry it, run its `_error` task, or end it in error."""
        self._now = now
        self._expect(task, TaskState.RUNNING)
        task.error = dict(error)
        task.state_params = {}
        policy = retry if retry is not None else self._retry_policy(task)
        if allow_retry and task.retry_count < policy.limit and policy.retries(task.error):
            self._wait(task, TaskState.RETRY_WAITING, policy.delay(task.retry_count))
            task.retry_count += 1
        elif self._has_error_task(task):
            task.flags |= TaskFlags.DELAYED_ERROR
            self._set(task, TaskState.PLANNED)
            self._add_error_task(task, dict(error), {})
            self._start_children(task)
        else:
            self._finish(task, TaskState.ERROR)
        self._drain()

    def poll_later(self, task: Task, seconds: float, state: Mapping[str, Any], now: float) -> None:
        """The operator asked to be called again in `seconds` with `state` (no retry is used up)."""
        self._now = now
        self._expect(task, TaskState.RUNNING)
        task.state_params = dict(state)
        self._wait(task, TaskState.RETRY_WAITING, max(0.0, seconds))
        self._drain()

    def canceled(self, task: Task, now: float) -> None:
        """A running task was stopped because the attempt is being canceled."""
        self._now = now
        task.flags |= TaskFlags.CANCEL_REQUESTED
        self._finish(task, TaskState.CANCELED)
        self._drain()

    def request_cancel(self, now: float) -> list[Task]:
        """Cancel the attempt: nothing new starts. Returns the running tasks the caller must stop."""
        self._now = now
        running = [task for task in list(self.tasks.values()) if self._cancel_one(task)]
        if self._gates:
            self._flush_canceled()
        self._drain()
        return running

    # ----------------------------------------------------------------- internals

    def _cancel_one(self, task: Task) -> bool:
        """Mark `task` canceled (what waits ends now); True when it is running and must be stopped."""
        if task.is_done:
            return False
        if not task.cancel_requested:
            task.flags |= TaskFlags.CANCEL_REQUESTED
            self._touch(task)
        if task.state in (TaskState.READY, TaskState.RETRY_WAITING, TaskState.GROUP_RETRY_WAITING):
            self._finish(task, TaskState.CANCELED)
        return task.state == TaskState.RUNNING

    def _expect(self, task: Task, state: TaskState) -> None:
        if task.state != state:
            raise RuntimeError(f"{task.full_name} is {task.state.label}, expected {state.label}")

    def _touch(self, task: Task) -> None:
        task.updated_at = self._now
        self.changed[task.id] = task

    def _set(self, task: Task, state: TaskState) -> None:
        task.state = state
        self._touch(task)

    def _wait(self, task: Task, state: TaskState, seconds: float) -> None:
        task.retry_at = self._now + seconds
        self._set(task, state)
        heapq.heappush(self._timers, (task.retry_at, task.id))

    @staticmethod
    def _retry_policy(task: Task) -> RetryPolicy:
        """The literal `_retry` of a task (an expression is evaluated by the runner and passed to `fail`)."""
        return task.directives.retry or NO_RETRY

    @staticmethod
    def _has_error_task(task: Task) -> bool:
        return task.directives.error is not None

    def _instantiate(self, parent: Task | None, specs: Sequence[TaskSpec], *, initial: bool,
                     run_canceled: bool = False) -> Task:
        """Create tasks for compiled subtrees under `parent` (every spec without a parent is a
        child of `parent`; upstreams are indexes into `specs`); returns the first root. The new
        tasks of a parent whose cancel was requested are canceled too, unless `run_canceled`
        (the `^cancel` tasks, which run because of it)."""
        ids: list[int] = []
        flags = TaskFlags.INITIAL_TASK if initial else TaskFlags.NONE
        if parent is not None and parent.cancel_requested and not run_canceled:
            flags |= TaskFlags.CANCEL_REQUESTED
        base = self.next_id
        for offset, spec in enumerate(specs):
            parent_id = parent.id if spec.parent is None and parent is not None else (
                base + spec.parent if spec.parent is not None else None)
            task = Task(
                id=base + offset, parent_id=parent_id, name=spec.name, full_name=spec.full_name,
                is_group=spec.is_group, config=spec.config, export=spec.export,
                upstreams=[base + u for u in spec.upstreams], flags=int(flags), updated_at=self._now,
                directives=spec.directives,
            )
            self.tasks[task.id] = task
            self.created.append(task)
            ids.append(task.id)
        self.next_id = base + len(specs)
        for task_id in ids:
            task = self.tasks[task_id]
            task.pending_upstreams = len(task.upstreams)
            for up in task.upstreams:
                self.tasks[up].downstreams.append(task_id)
            if task.parent_id is not None:
                self.tasks[task.parent_id].children.append(task_id)
        if parent is not None:
            parent.live_children += sum(1 for spec in specs if spec.parent is None)
        return self.tasks[ids[0]]

    def _start_children(self, task: Task) -> None:
        """`task` is planned: activate its children that wait for nothing, or evaluate it now."""
        if task.live_children == 0:
            self._work.append((_EVALUATE, task.id))
            return
        for child_id in task.children:
            child = self.tasks[child_id]
            if child.state == TaskState.BLOCKED and child.pending_upstreams == 0 and not child.dead:
                self._work.append((_ACTIVATE, child_id))

    def _drain(self) -> None:
        work = self._work
        while work:
            kind, task_id = work.popleft()
            task = self.tasks[task_id]
            if kind == _ACTIVATE:
                self._activate(task)
            elif kind == _EVALUATE:
                self._evaluate(task)
            else:
                self._propagate(task)

    def _activate(self, task: Task) -> None:
        if task.state != TaskState.BLOCKED or task.dead:
            return
        task.live_children = sum(1 for c in task.children if self._is_live(self.tasks[c]))
        if task.cancel_requested:
            self._finish(task, TaskState.CANCELED)
        elif task.directives.disable or task.full_name in self.no_op_names:
            self._finish(task, TaskState.SUCCESS)
        elif self._gates and task.parent_id in self._gates and not self._admit(task):
            return  # it waits for a slot or for its turn
        elif task.is_group:
            task.started_at = task.started_at or self._now
            self._set(task, TaskState.PLANNED)
            if task.directives.gated and task.id not in self._gates:
                self._gates[task.id] = Gate(task.directives.running, task.directives.start_interval)
            self._watch(task)
            self._start_children(task)
        else:
            self._set(task, TaskState.READY)
            self.ready.append(task.id)

    def _evaluate(self, task: Task) -> None:
        if task.state != TaskState.PLANNED or task.live_children > 0:
            return
        if task.cancel_requested and task.directives.cancel is not None and not any(
            self.tasks[c].name == "^cancel" for c in task.children
        ):  # `_cancel`: once the group's running tasks have stopped, its ^cancel tasks run
            self._instantiate(task, task.directives.cancel, initial=False, run_canceled=True)
            self._start_children(task)
        elif task.cancel_requested:
            self._finish(task, TaskState.CANCELED)
        elif task.flags & TaskFlags.DELAYED_ERROR:
            self._finish(task, TaskState.ERROR)
        elif task.flags & TaskFlags.DELAYED_GROUP_ERROR:  # its _error has run
            self._finish(task, TaskState.SUCCESS if task.directives.continue_failure else TaskState.GROUP_ERROR)
        elif task.flags & TIMED_OUT:  # its tasks have stopped: no retry, its `_error` runs
            if self._has_error_task(task):
                task.flags |= TaskFlags.DELAYED_ERROR
                _error, stores = self._descendant_errors(task)
                self._add_error_task(task, dict(task.error or {}), stores)
                self._start_children(task)
            else:
                self._finish(task, TaskState.ERROR)
        elif any(self.tasks[c].state in FAILED_STATES for c in task.children):
            policy = self._retry_policy(task)
            if task.retry_count < policy.limit:
                state = TaskState.GROUP_RETRY_WAITING if task.is_group else TaskState.RETRY_WAITING
                self._wait(task, state, policy.delay(task.retry_count))
                task.retry_count += 1
            elif self._has_error_task(task):
                task.flags |= TaskFlags.DELAYED_GROUP_ERROR
                error, stores = self._descendant_errors(task)
                self._add_error_task(task, error, stores)
                self._start_children(task)
            else:
                self._finish(task, TaskState.SUCCESS if task.directives.continue_failure else TaskState.GROUP_ERROR)
        elif task.directives.check is not None and not any(
            self.tasks[c].name == "^check" for c in task.children
        ):
            self._instantiate(task, task.directives.check, initial=False)
            self._start_children(task)
        else:
            self._finish(task, TaskState.SUCCESS)

    def _sla_of(self, task: Task) -> Sla | None:
        if task.id == self.root_id and self.attempt_sla is not None:
            return self.attempt_sla[0]
        return task.directives.sla

    @staticmethod
    def _watched(task: Task) -> bool:
        """Whether a task's SLA can still be missed."""
        return not task.is_done and not task.flags & (SLA_MISSED | SUPERSEDED)

    def _watch(self, task: Task) -> None:
        """`task` has started: watch its `_sla` (the attempt's SLA is watched from `start`) and a
        group's `_timeout`."""
        directives = task.directives
        if directives is NO_DIRECTIVES or task.started_at is None:
            return
        if directives.sla is not None and self._watched(task):
            heapq.heappush(self._deadlines, (directives.sla.deadline(task.started_at, "UTC"), task.id))
        if directives.timeout is not None and self._times_out(task):
            heapq.heappush(self._timeouts, (task.started_at + directives.timeout, task.id))

    @staticmethod
    def _times_out(task: Task) -> bool:
        """Whether a group's `_timeout` can still pass."""
        return not task.is_done and not task.flags & (TIMED_OUT | SUPERSEDED) and not task.cancel_requested

    def _time_out(self, group: Task) -> None:
        """`group`'s `_timeout` passed: cancel every task under it; it fails once they have stopped."""
        group.flags |= TIMED_OUT
        seconds = group.directives.timeout or 0.0
        group.error = {"message": f"timed out after {seconds:g} seconds (_timeout)"}
        self._touch(group)
        stack = list(group.children)
        while stack:
            task = self.tasks[stack.pop()]
            stack.extend(task.children)
            if self._cancel_one(task):
                self.to_stop.append(task)
        if self._gates:
            self._flush_canceled()
        if group.state == TaskState.GROUP_RETRY_WAITING:  # between two runs: it ends now
            group.retry_at = None
            self._set(group, TaskState.PLANNED)
        if group.live_children == 0:
            self._work.append((_EVALUATE, group.id))

    # ----------------------------------------------------------------- gates

    def _admit(self, task: Task) -> bool:
        """Whether `task` may start now through its parent's gate; if not, it waits in the gate."""
        group_id = task.parent_id
        assert group_id is not None
        gate = self._gates[group_id]
        if task.id in gate.granted:
            gate.granted.discard(task.id)
            return True
        if not gate.waiting and gate.may_start(self._now):
            gate.take(task.id, self._now)
            return True
        gate.waiting.append(task.id)
        self._open(group_id, gate)
        return False

    def _open(self, group_id: int, gate: Gate) -> None:
        """Let through the waiting children that may start now, and set the timer for the next."""
        while gate.waiting and gate.may_start(self._now):
            task_id = gate.waiting.popleft()
            gate.take(task_id, self._now)
            gate.granted.add(task_id)
            self._work.append((_ACTIVATE, task_id))
        at = gate.next_opening()
        if at is not None and gate.opening != at:
            gate.opening = at
            heapq.heappush(self._openings, (at, group_id))

    def _flush_canceled(self) -> None:
        """Children waiting in a gate whose cancel was requested end now (they take no slot)."""
        for gate in self._gates.values():
            if any(self.tasks[t].cancel_requested for t in gate.waiting):
                for task_id in gate.waiting:
                    if self.tasks[task_id].cancel_requested:
                        self._work.append((_ACTIVATE, task_id))
                gate.waiting = deque(t for t in gate.waiting if not self.tasks[t].cancel_requested)

    def _miss(self, task: Task, sla: Sla, deadline: float) -> None:
        """`task` (the root: the attempt) missed its SLA: add the `^sla` group under the root."""
        root = self.root
        if root.cancel_requested:  # the attempt is being killed: nothing to tell or to run
            return
        task.flags |= SLA_MISSED
        self._touch(task)
        miss = MissedDeadline(task, sla, deadline)
        self.sla_misses.append(miss)
        if root.state != TaskState.PLANNED:  # between two runs of a root `_retry`: alert only
            return
        group = self._instantiate(root, sla.tasks, initial=False)
        if sla.fail:
            group.flags |= TaskFlags.DELAYED_ERROR
            group.error = {"message": f"SLA missed: {miss.message}"}
        self._work.append((_ACTIVATE, group.id))

    def _finish(self, task: Task, state: TaskState) -> None:
        self._set(task, state)
        task.retry_at = None
        self._work.append((_FINISHED, task.id))

    def _propagate(self, task: Task) -> None:
        """`task` is done: wake or bury its downstream siblings and tell its parent."""
        success = task.state == TaskState.SUCCESS
        parent = self.parent(task)
        if self._gates and task.parent_id in self._gates:
            gate = self._gates[task.parent_id]
            if task.id in gate.active:
                gate.release(task.id)
                self._open(task.parent_id, gate)
        for down_id in task.downstreams:
            down = self.tasks[down_id]
            if down.state != TaskState.BLOCKED or down.dead:
                continue
            if success:
                down.pending_upstreams -= 1
                if down.pending_upstreams == 0 and parent is not None and parent.state == TaskState.PLANNED:
                    self._work.append((_ACTIVATE, down_id))
            else:
                self._bury(down)
        if parent is not None and not task.flags & SUPERSEDED:
            self._child_settled(parent)

    def _bury(self, task: Task) -> None:
        """A blocked task whose upstream failed never runs; it stops counting for its parent."""
        stack = [task]
        while stack:
            current = stack.pop()
            if current.dead or current.state != TaskState.BLOCKED:
                continue
            current.dead = True
            parent = self.parent(current)
            if parent is not None:
                self._child_settled(parent)
            stack.extend(self.tasks[d] for d in current.downstreams)

    def _child_settled(self, parent: Task) -> None:
        parent.live_children -= 1
        if parent.live_children == 0 and parent.state == TaskState.PLANNED:
            self._work.append((_EVALUATE, parent.id))

    def _supersede_children(self, task: Task) -> None:
        for child_id in task.children:
            child = self.tasks[child_id]
            child.flags |= SUPERSEDED
            self._touch(child)
        task.children = []
        task.live_children = 0

    def _copy_children(self, task: Task) -> None:
        """Group retry: replace the children with fresh copies of the initial (non-generated) ones."""
        originals = [self.tasks[c] for c in task.children if not self.tasks[c].name.startswith("^")]
        self._supersede_children(task)
        specs: list[TaskSpec] = []
        index_of: dict[int, int] = {}
        stack: list[tuple[Task, int | None]] = [(t, None) for t in reversed(originals)]
        while stack:
            original, parent_index = stack.pop()
            index_of[original.id] = len(specs)
            specs.append(TaskSpec(
                name=original.name, full_name=original.full_name, parent=parent_index,
                is_group=original.is_group, config=original.config, export=original.export,
                directives=original.directives,
            ))
            kids = [self.tasks[c] for c in original.children if not self.tasks[c].name.startswith("^")]
            stack.extend((k, index_of[original.id]) for k in reversed(kids))
        for original_id, index in index_of.items():
            specs[index].upstreams = [index_of[u] for u in self.tasks[original_id].upstreams if u in index_of]
        if specs:
            self._instantiate(task, specs, initial=True)

    def _add_error_task(self, task: Task, error: dict[str, Any], stores: dict[str, Any]) -> None:
        specs = list(task.directives.error or ())
        # Runtime exports, not `_export`: they are data, never evaluated as templates (params.py).
        self._instantiate(task, specs, initial=False).export_params = {**stores, "error": error}

    def _descendant_errors(self, task: Task) -> tuple[dict[str, Any], dict[str, Any]]:
        """The errors (merged in id order, last wins) and stores of the failed task's descendants."""
        error: dict[str, Any] = {}
        stores: dict[str, Any] = {}
        stack = list(task.children)
        found: list[Task] = []
        while stack:
            current = self.tasks[stack.pop()]
            found.append(current)
            stack.extend(current.children)
        for current in sorted(found, key=lambda t: t.id):
            if current.error:
                error.update(current.error)
            stores.update(current.store_params)
        return error, stores
