"""`http_call>: URL` fetches a workflow (YAML or JSON) over HTTP and runs it as this task's `^sub`.

It takes http>'s options; `content_type_override` decides how the body is read when the server
sends a wrong content type. The fetched workflow sees the caller's params, like `call>`.
"""

from __future__ import annotations

import json
from typing import Any

from digpy.core.spi import ConfigError, OperatorContext, TaskError, TaskResult, hookimpl
from digpy.plugins.http import options, request


class HttpCallOperator:
    name = "http_call"
    adds_tasks = True  # the fetched workflow runs as its children

    async def run(self, ctx: OperatorContext) -> TaskResult:
        answer = await request(ctx, ctx.command)
        if isinstance(answer, TaskResult):
            return answer
        _status, text, headers = answer
        kind = str(options(ctx.params).get("content_type_override") or headers.get("Content-Type", "")).lower()
        config = _parse(ctx, text, str(ctx.command), json_first="json" in kind)
        if not isinstance(config, dict):
            raise TaskError(f"http_call> {ctx.command} did not return a workflow (a mapping of tasks)")
        for key in ("timezone", "schedule", "sla"):
            config.pop(key, None)
        return TaskResult(subtasks=config)


def _parse(ctx: OperatorContext, text: str, url: str, *, json_first: bool) -> Any:
    """JSON, or YAML read by the rules of .dig files (dates stay strings, duplicate keys refused)."""
    if json_first:
        try:
            return json.loads(text)
        except ValueError:
            pass
    try:
        return ctx.parse_workflow(text, url)
    except ConfigError as e:
        raise ConfigError(f"http_call> the fetched workflow is not valid: {e}") from None


@hookimpl
def digpy_register_operators() -> list[type]:
    return [HttpCallOperator]
