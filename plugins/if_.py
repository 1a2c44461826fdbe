"""`if>: BOOL` runs `_do` when the value is true and `_else_do` when it is false."""

from __future__ import annotations

from typing import Any

from digpy.core.spi import ConfigError, OperatorContext, TaskResult, hookimpl
from digpy.plugins.generated import body


class IfOperator:
    name = "if"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        if not ctx.params.get("_do") and not ctx.params.get("_else_do"):  # absent or empty, as Digdag checks
            raise ConfigError("if> needs _do or _else_do (or both)")
        condition = _boolean(ctx.command)
        key = "_do" if condition else "_else_do"
        if key not in ctx.params:
            return TaskResult()
        return TaskResult(subtasks=body(ctx.params, key, "if"))


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip() in ("true", "false"):
        return value.strip() == "true"
    raise ConfigError(f"Expected 'true' or 'false' for key '_command' but got {value!r}")


@hookimpl
def digpy_register_operators() -> list[type]:
    return [IfOperator]
