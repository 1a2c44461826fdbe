"""`wait>: DURATION` (`30s`, `5m`, `1h30m`, `1d`) succeeds once the time has passed.

By default the task holds no worker while it waits: it is parked and woken when the time is up
(or every `poll_interval`, if given). `blocking: true` sleeps inside the task instead.
"""

from __future__ import annotations

import asyncio
import time

from digpy.core.spi import ConfigError, OperatorContext, TaskResult, boolean, hookimpl, seconds


class WaitOperator:
    name = "wait"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        duration = seconds(ctx.command, "wait>")
        if boolean(ctx.params.get("blocking", False), "wait> blocking"):
            if ctx.params.get("poll_interval") is not None:
                raise ConfigError("wait> poll_interval can't be specified with blocking: true")
            await asyncio.sleep(duration)
            return TaskResult()
        until = float(ctx.state.get("until", time.time() + duration))
        remaining = until - time.time()
        if remaining <= 0:
            return TaskResult()
        interval = ctx.params.get("poll_interval")
        step = min(remaining, seconds(interval, "wait> poll_interval")) if interval is not None else remaining
        return TaskResult.poll(step, {"until": until})


@hookimpl
def digpy_register_operators() -> list[type]:
    return [WaitOperator]
