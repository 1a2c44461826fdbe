"""Reading request parameters with clear 400 errors."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from digpy.core.errors import ConfigError

_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a 64-bit column
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def parse_id(value: Any, what: str) -> int:
    """An id given as a number or a string of ASCII digits (ids are strings in the REST API)."""
    if isinstance(value, float) and value.is_integer():  # JSON's 2.0 is the whole number 2
        value = int(value)
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not _ID.fullmatch(text):
        raise ConfigError(f"{what} must be an id (a number), got {json.dumps(value)}")
    return int(text)


def int_id(request: web.Request, name: str) -> int:
    return parse_id(request.match_info[name], name)


def query_int(request: web.Request, name: str, default: int | None = None, *, minimum: int | None = None,
              maximum: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None:
        return default
    if not _INTEGER.fullmatch(value):
        raise ConfigError(f"query parameter {name} must be a number, got '{value}'")
    number = int(value)
    if minimum is not None and number < minimum:
        raise ConfigError(f"query parameter {name} must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"query parameter {name} must be at most {maximum}, got {number}")
    return number


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise ConfigError(f"query parameter {name} must be true or false, got '{value}'")
    return value.lower() == "true"


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ConfigError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ConfigError("the request body must be a JSON object")
    return body


