"""`wait>: DURATION` (`30s`, `5m`, `1h30m`, `1d`) succeeds once the time has passed.

By default the task holds no worker while it waits: it is parked and woken when the time is up
(or every `poll_interval`, if given). `blocking: true` sleeps inside the task instead.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from digpy.core.schedule import parse_duration
from digpy.core.spi import ConfigError, OperatorContext, TaskResult, hookimpl
from digpy.plugins.options import boolean


def seconds(value: Any, what: str) -> float:
    """A duration (`30s`, `1h30m`, `1D`, or seconds as a number) in seconds; floats are kept."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    try:
        return float(parse_duration(value))
    except ConfigError:
        raise ConfigError(f"{what} expects a duration like 30s, 5m, 1h30m or 1d, got {value!r}") from None


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
