"""`jq>: FILTER` runs a jq filter over a JSON input and prints each result (Dagu's jq executor).

Options: `input` (the JSON text, or a param's value as it is: a mapping or a list), `raw` (false:
each result as JSON indented by 4 spaces, as Dagu prints them; true: a text result as it is, null
as an empty line, the others as compact JSON; object keys sorted, as Dagu's jq (gojq) prints them), `output` (a param name: the printed results, trimmed, as `sh>`'s
`output:`, with its `max_output_size`). The filter runs in libjq itself (the `jq` package), inside digpy's process: no command
is started. A filter that does not compile is a configuration error; one that fails on its input
fails the task.
"""

from __future__ import annotations

import json
from typing import Any

from digpy.core.spi import ConfigError, OperatorContext, TaskError, TaskResult, hookimpl
from digpy.plugins.sh import kept_output, output_option


class JqOperator:
    name = "jq"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        import jq  # only jq> tasks load libjq

        program = ctx.command
        if not isinstance(program, str) or not program.strip():
            raise ConfigError(f"jq> needs a filter such as .items[], got {program!r}")
        raw = ctx.params.get("raw", False)
        if not isinstance(raw, bool):
            raise ConfigError(f"jq> raw must be true or false, got {raw!r}")
        output, limit = output_option(ctx, "jq")
        data: Any = ctx.params.get("input")
        if data is None:
            raise ConfigError("jq> needs an input: the JSON text the filter reads")
        try:
            compiled = jq.compile(program)
        except ValueError as e:
            raise ConfigError(f"jq> filter {program!r} does not compile: {_first_line(e)}") from None
        try:
            results = compiled.input_text(data).all() if isinstance(data, str) else compiled.input_value(data).all()
        except ValueError as e:
            raise TaskError(f"jq> {_first_line(e)}") from None
        text = "".join(_shown(r, raw) + "\n" for r in results)
        ctx.output(text)
        return TaskResult(stores=kept_output(output, text.strip(), limit))


def _shown(result: Any, raw: bool) -> str:
    """A result as Dagu's jq (gojq) prints it: object keys sorted; with `raw`, a text as it is and
    null as an empty line."""
    if raw and isinstance(result, str):
        return result
    if raw and result is None:
        return ""
    return json.dumps(result, ensure_ascii=False, indent=None if raw else 4, sort_keys=True,
                      separators=(",", ":") if raw else None)


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or ["error"])[0]


@hookimpl
def digpy_register_operators() -> list[type]:
    return [JqOperator]
