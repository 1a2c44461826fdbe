"""`call>: FILE[.dig]` runs another workflow file of the project as this task's `^sub`.

The path is relative to the task's working directory. The called workflow sees what the call
task passes down (its inherited params and its `_export`, not its plain keys, as in Digdag),
applies its own `_export` inside, and its stores flow to the tasks after the call.
A chain of calls that comes back to a file already being called is an error.
"""

from __future__ import annotations

from digpy.core.spi import ConfigError, OperatorContext, TaskResult, hookimpl

CHAIN = "_call_chain"  # files being called, outermost first (exported to the called tasks)


class CallOperator:
    name = "call"
    adds_tasks = True  # the called workflow runs as its children
    calls_workflow = True  # its argument is a workflow file of the project, checked at load time

    async def run(self, ctx: OperatorContext) -> TaskResult:
        target = ctx.command
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(f"call> needs a workflow file name, got {target!r}")
        called = ctx.load_workflow(target.strip())
        chain = [str(p) for p in ctx.params.get(CHAIN) or []]
        if called.path in chain:
            raise ConfigError("call> makes a cycle: " + " → ".join([*chain, called.path]))
        config = dict(called.config)
        config["_export"] = {**(config.get("_export") or {}), CHAIN: [*chain, called.path]}
        return TaskResult(subtasks=config)


@hookimpl
def digpy_register_operators() -> list[type]:
    return [CallOperator]
