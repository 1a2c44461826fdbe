"""`fail>: MESSAGE` fails the task with the message (retried like any other task if `_retry` asks)."""

from __future__ import annotations

from digpy.core.spi import OperatorContext, TaskError, TaskResult, hookimpl


class FailOperator:
    name = "fail"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        message = ctx.command
        raise TaskError("" if message is None else str(message))


@hookimpl
def digpy_register_operators() -> list[type]:
    return [FailOperator]
