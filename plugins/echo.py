"""`echo>: MESSAGE` prints the message and a newline."""

from __future__ import annotations

import json

from digpy.core.spi import OperatorContext, TaskResult, hookimpl


class EchoOperator:
    name = "echo"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        message = ctx.command
        if message is None:
            message = ""
        elif not isinstance(message, str):
            message = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
        ctx.output(message + "\n")
        return TaskResult()


@hookimpl
def digpy_register_operators() -> list[type]:
    return [EchoOperator]
