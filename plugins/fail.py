"""`fail>: MESSAGE` fails the task with the message (retried like any other task if `_retry` asks)."""

from __future__ import annotations

import json

from digpy.core.spi import OperatorContext, TaskError, TaskResult, hookimpl


class FailOperator:
    name = "fail"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        message = ctx.command
        if message is not None and not isinstance(message, str):
            message = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        raise TaskError(message or "")


@hookimpl
def digpy_register_operators() -> list[type]:
    return [FailOperator]
