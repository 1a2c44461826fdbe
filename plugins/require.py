"""`require>: WORKFLOW` runs (or waits for) the session of another workflow and fails if it fails.

Options: `session_time` (default: this task's session time), `params` (given to that session and
nothing else), `ignore_failure` (false), `rerun_on` (none | failed | all), `project_name`,
`retry_attempt_name`. The task holds no worker while it waits: it asks again after 1, 2, 4, 8,
then every 10 seconds (sooner when the engine says an answer is near).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from digpy.core.spi import ConfigError, OperatorContext, TaskError, TaskResult, boolean, hookimpl

RERUN_ON = ("none", "failed", "all")
MAX_POLL_SECONDS = 10.0


class RequireOperator:
    name = "require"
    adds_tasks = True  # starts attempts of other workflows in the same run

    async def run(self, ctx: OperatorContext) -> TaskResult:
        workflow = ctx.command
        if not isinstance(workflow, str) or not workflow.strip():
            raise ConfigError(f"require> needs a workflow name, got {workflow!r}")
        params = ctx.params
        if "attempt_id" in ctx.state:
            status = ctx.sessions.status(int(ctx.state["attempt_id"]))
        else:
            rerun_on = str(params.get("rerun_on", "none"))
            if rerun_on not in RERUN_ON:
                raise ConfigError(f"require> rerun_on must be one of {', '.join(RERUN_ON)}, got '{rerun_on}'")
            when = str(params.get("session_time"))
            try:
                datetime.fromisoformat(when.replace("Z", "+00:00"))
            except ValueError:
                raise ConfigError(f"require> session_time must be a date-time such as 2026-01-31T00:00:00+00:00, "
                                  f"got '{when}'") from None
            given = params.get("params") or {}
            if not isinstance(given, dict):
                raise ConfigError("require> params must be a mapping")
            status = ctx.sessions.require(
                workflow.strip().removesuffix(".dig"), session_time=when,
                params=given, rerun_on=rerun_on, project_name=_optional(params.get("project_name")),
                retry_attempt_name=_optional(params.get("retry_attempt_name")),
            )
        if not status.done:
            polls = int(ctx.state.get("polls", 0))
            wait = min(2.0**polls, MAX_POLL_SECONDS, max(status.poll_seconds, 0.01))
            return TaskResult.poll(wait, {"attempt_id": status.attempt_id, "polls": polls + 1})
        if not status.success and not boolean(params.get("ignore_failure", False), "require> ignore_failure"):
            raise TaskError(f"Dependent workflow failed. Session id: {status.session_id}, "
                            f"attempt id: {status.attempt_id}")
        return TaskResult()


def _optional(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


@hookimpl
def digpy_register_operators() -> list[type]:
    return [RequireOperator]
