"""greet>: an example operator plugin for digpy.

    +hello:
      greet>: Ada
      punctuation: "!"

prints "Hello, Ada!" and stores `greet.last` = "Ada" for the tasks that follow.
"""

from __future__ import annotations

from digpy.core.spi import ConfigError, OperatorContext, TaskResult, hookimpl


class GreetOperator:
    name = "greet"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        who = ctx.command
        if not isinstance(who, str) or not who:
            raise ConfigError("greet> needs a name, e.g. `greet>: Ada`")
        punctuation = str(ctx.params.get("punctuation", "."))
        ctx.output(f"Hello, {who}{punctuation}\n")
        return TaskResult(stores={"greet": {"last": who}})


@hookimpl
def digpy_register_operators() -> list[type]:
    return [GreetOperator]
