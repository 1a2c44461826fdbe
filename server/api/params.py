"""Reading request parameters with clear 400 errors."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from digpy.core.errors import ConfigError


def int_id(request: web.Request, name: str) -> int:
    value = request.match_info[name]
    if not value.isdigit():
        raise ConfigError(f"{name} must be a number, got '{value}'")
    return int(value)


def query_int(request: web.Request, name: str, default: int | None = None, *, maximum: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    if not value.lstrip("-").isdigit():
        raise ConfigError(f"query parameter {name} must be a number, got '{value}'")
    number = int(value)
    if maximum is not None and number > maximum:
        raise ConfigError(f"query parameter {name} must be at most {maximum}, got {number}")
    return number


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    if value is None:
        return default
    return value.lower() in ("true", "1", "yes")


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ConfigError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ConfigError("the request body must be a JSON object")
    return body
