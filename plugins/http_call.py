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

    async def run(self, ctx: OperatorContext) -> TaskResult:
        answer = await request(ctx, ctx.command)
        if isinstance(answer, TaskResult):
            return answer
        _status, text, headers = answer
        kind = str(options(ctx.params).get("content_type_override") or headers.get("Content-Type", "")).lower()
        config = _parse(text, json_first="json" in kind)
        if not isinstance(config, dict):
            raise TaskError(f"http_call> {ctx.command} did not return a workflow (a mapping of tasks)")
        for key in ("timezone", "schedule", "sla"):
            config.pop(key, None)
        return TaskResult(subtasks=config)


def _parse(text: str, *, json_first: bool) -> Any:
    if json_first:
        try:
            return json.loads(text)
        except ValueError:
            pass
    from ruamel.yaml import YAML  # here: a module-level import costs every digpy start-up ~15 ms
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as e:
        raise ConfigError(f"http_call> the fetched workflow is not valid YAML or JSON: {e}") from None


@hookimpl
def digpy_register_operators() -> list[type]:
    return [HttpCallOperator]
