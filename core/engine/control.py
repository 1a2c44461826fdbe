"""Evaluating a task's `_precondition` when it is about to run, and its `_repeat` when it has run
(see digpy.core.workflow.control)."""

from __future__ import annotations

from collections.abc import Sequence

from digpy.core.engine.context import TaskContext
from digpy.core.spi import TaskResult
from digpy.core.workflow.control import (
    SKIPPED,
    Condition,
    ContinueOn,
    RepeatPolicy,
    parse_preconditions,
    parse_repeat,
)
from digpy.core.workflow.model import Task, TaskState
from digpy.core.workflow.state_machine import AttemptGraph

SHELL = "/bin/sh"
REPEAT_DONE = "_repeat_done"  # the runs of a repeated task so far, kept in its poll state


def siblings_outcome(graph: AttemptGraph, task: Task, names: Sequence[str]) -> str:
    """`_outcome`: how the siblings `names` of `task` ended (digpy.core.workflow.control)."""
    wanted = set(names)
    continued = succeeded = False
    for child in graph.tasks[task.parent_id].children if task.parent_id is not None else ():
        sibling = graph.tasks[child]
        if sibling.name not in wanted:
            continue
        if _failed_within(graph, sibling):
            continued = True
        elif sibling.state == TaskState.SUCCESS and SKIPPED not in sibling.store_params:
            succeeded = True
    if not continued:
        return "succeeded"
    return "partially_succeeded" if succeeded else "failed"


def _failed_within(graph: AttemptGraph, task: Task) -> bool:
    """Whether `task` or a task in it failed and the workflow went on (`_continue_on`)."""
    stack = [task]
    while stack:
        current = stack.pop()
        if current.state in (TaskState.ERROR, TaskState.GROUP_ERROR) or (current.error or {}).get("continued"):
            return True
        stack.extend(graph.tasks[c] for c in current.children)
    return False


async def skip_reason(ctx: TaskContext, continue_on: ContinueOn) -> str | None:
    """Why the task is skipped (an upstream task was skipped, or a precondition does not hold), or None."""
    if ctx.params.get(SKIPPED) is True and not continue_on.skipped:  # (SKIP_PASSED: the skip ends there)
        return "a task it depends on was skipped"
    value = ctx.params.get("_precondition")
    if value is None:
        return None
    return await unmet(ctx, parse_preconditions(value))


async def unmet(ctx: TaskContext, conditions: Sequence[Condition]) -> str | None:
    """The first of `conditions` that does not hold, said in words, or None when all hold."""
    for condition in conditions:
        if condition.command is not None:
            captured: list[str] = []
            code = await ctx.run_command([SHELL, "-c", condition.command], env=ctx.params_env(),
                                         capture=captured if condition.expected is not None else None,
                                         echo=False)
            if condition.expected is None:
                shown = condition.command.strip().splitlines()[-1]  # (a front end's set-up lines come first)
                if (code != 0) != condition.negate:
                    return (f"precondition `{shown}` exited with {code}" if code != 0
                            else f"precondition `{shown}` exited with 0 (negate: it must not)")
                continue
            text = "".join(captured).strip()
        else:
            text = condition.value or ""
        if condition.matches(text) == condition.negate:
            return (f"precondition not met: {text!r} is {condition.expected!r} (negate: it must not be)"
                    if condition.negate else f"precondition not met: {text!r} is not {condition.expected!r}")
    return None


async def repeats(ctx: TaskContext, policy: RepeatPolicy, exit_code: int | None, done: int) -> bool:
    """Whether the operator runs again after run number `done` ended with `exit_code` (0: success)."""
    if policy.limit is not None and done >= policy.limit:
        return False
    if policy.mode == "always":
        return exit_code in (0, *policy.exit_codes)
    holds = True
    if policy.exit_codes:
        holds = exit_code in policy.exit_codes
    if holds and policy.conditions:
        holds = await unmet(ctx, policy.conditions) is None
    return holds if policy.mode == "while" else not holds


async def repeat_again(ctx: TaskContext, exit_code: int | None) -> TaskResult | None:
    """The task's `_repeat` after a run that ended with `exit_code`: the poll that runs it again, or None."""
    policy = parse_repeat(ctx.params["_repeat"])
    done = int(ctx.state.get(REPEAT_DONE, 0)) + 1
    if not await repeats(ctx, policy, exit_code, done):
        return None
    wait = policy.delay(done)
    ctx.output(f"repeat: run {done} done, the next in {wait:g} s\n")
    return TaskResult.poll(wait, {REPEAT_DONE: done})
