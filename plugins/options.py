"""Reading operator options the way Digdag does (shared by the built-in operators)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from digpy.core.spi import ConfigError


def namespaced(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The task's params over the operator's namespace: `_export: {pg: {host: x}}` gives `host`
    to every `pg>` task below it, and a task's own `host:` wins."""
    base = params.get(name)
    merged = dict(base) if isinstance(base, dict) else {}
    merged.update({k: v for k, v in params.items() if k != name})
    return merged


def json_or_value(value: Any) -> Any:
    """A value that may also be written as a JSON string (`'["a", "b"]'`)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def mapping(value: Any, operator: str, expected: str) -> dict[str, Any]:
    value = json_or_value(value)
    if not isinstance(value, dict):
        raise ConfigError(f"{operator}> expects {expected}, got {value!r}")
    return value


def boolean(value: Any, what: str) -> bool:
    """true/false (or the strings, in any case, as `${...}` gives them); anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"{what} must be true or false, got {json.dumps(value)}")


def number(value: Any, what: str, kind: type = int) -> Any:
    """An option that must be a number (`kind` int or float; strings as `${...}` gives them)."""
    try:
        return kind(str(value).strip())
    except ValueError:
        raise ConfigError(f"{what} must be a{' whole' if kind is int else ''} number, got {value!r}") from None
