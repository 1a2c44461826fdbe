"""Evaluating a task's `_precondition` (see digpy.core.workflow.control) when it is about to run."""

from __future__ import annotations

from digpy.core.engine.context import TaskContext
from digpy.core.workflow.control import SKIPPED, ContinueOn, parse_preconditions

SHELL = "/bin/sh"


async def skip_reason(ctx: TaskContext, continue_on: ContinueOn) -> str | None:
    """Why the task is skipped (an upstream task was skipped, or a precondition does not hold), or None."""
    if ctx.params.get(SKIPPED) is not None and not continue_on.skipped:
        return "a task it depends on was skipped"
    value = ctx.params.get("_precondition")
    if value is None:
        return None
    for condition in parse_preconditions(value):
        if condition.command is not None:
            captured: list[str] = []
            code = await ctx.run_command([SHELL, "-c", condition.command], env=ctx.params_env(),
                                         capture=captured if condition.expected is not None else None,
                                         echo=False)
            if condition.expected is None:
                if code != 0:
                    shown = condition.command.strip().splitlines()[-1]  # (a front end's set-up lines come first)
                    return f"precondition `{shown}` exited with {code}"
                continue
            text = "".join(captured).strip()
        else:
            text = condition.value or ""
        if not condition.matches(text):
            return f"precondition not met: {text!r} is not {condition.expected!r}"
    return None
