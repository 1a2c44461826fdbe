"""`for_range>: {from, to, step | slices}` runs `_do` once per half-open range of [from, to).

Each child exports `range: {from, to, index}` and is named `+range-from=F&to=T`. With `slices`,
the step is the ceiling of (to - from) / slices.
"""

from __future__ import annotations

from digpy.core.spi import ConfigError, OperatorContext, TaskResult, hookimpl, mapping, whole_number
from digpy.plugins.generated import body, check_count, children, parallel


class ForRangeOperator:
    name = "for_range"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        spec = mapping(ctx.command, "for_range", "{from, to, step} or {from, to, slices}")
        start = whole_number(spec.get("from"), "for_range> from")
        end = whole_number(spec.get("to"), "for_range> to")
        step, slices = spec.get("step"), spec.get("slices")
        if step is not None and slices is not None:
            raise ConfigError("for_range> takes step or slices, not both")
        if step is None and slices is None:
            raise ConfigError("for_range> needs step or slices")
        if step is not None:
            size = whole_number(step, "for_range> step")
            if size <= 0:
                raise ConfigError(f"for_range> step must be 1 or more, got {size}")
        else:
            count = whole_number(slices, "for_range> slices")
            if count <= 0:
                raise ConfigError(f"for_range> slices must be 1 or more, got {count}")
            size = max(1, (end - start + count - 1) // count)
        check_count(len(range(start, end, size)), "for_range")
        do = body(ctx.params, "_do", "for_range")
        items = []
        for index, low in enumerate(range(start, end, size)):
            high = min(low + size, end)
            items.append((f"+range-from={low}&to={high}", {"range": {"from": low, "to": high, "index": index}}))
        return TaskResult(subtasks=children(do, items, parallel(ctx.params, "for_range")))


@hookimpl
def digpy_register_operators() -> list[type]:
    return [ForRangeOperator]
