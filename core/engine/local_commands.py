"""The default plugin that runs commands on this machine: asked last, after every plugin's
`digpy_command_executor` (a Docker image in the params, ...) has declined."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from digpy.core.spi import CommandExecutor, hookimpl


@hookimpl(trylast=True)
def digpy_command_executor(params: Mapping[str, Any], operator: str) -> CommandExecutor:
    from digpy.core.engine.process import LOCAL  # loaded with the first command

    return LOCAL
