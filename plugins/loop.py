"""`loop>: N` runs `_do` N times as children `+loop-0` … `+loop-(N-1)`, each with `i` exported."""

from __future__ import annotations

from digpy.core.spi import ConfigError, OperatorContext, TaskResult, hookimpl, whole_number
from digpy.plugins.generated import body, check_count, children, parallel


class LoopOperator:
    name = "loop"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        count = whole_number(ctx.command, "loop> count")
        if count < 0:
            raise ConfigError(f"loop> count must be >= 0, got {count}")
        check_count(count, "loop")
        do = body(ctx.params, "_do", "loop")
        items = ((f"+loop-{i}", {"i": i}) for i in range(count))
        return TaskResult(subtasks=children(do, items, parallel(ctx.params, "loop")))


@hookimpl
def digpy_register_operators() -> list[type]:
    return [LoopOperator]
