"""Schedules: list, read, skip (reschedule), backfill, enable and disable."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from digpy.client import model
from digpy.core.errors import ConfigError
from digpy.server.api.params import int_id, json_body, query_int
from digpy.server.keys import STORE, off_loop, wake_executor, wake_scheduler
from digpy.server.security import NOWHERE, needs, visible
from digpy.server.services import schedules

routes = web.RouteTableDef()


async def _body(request: web.Request) -> dict[str, Any]:
    """An optional JSON object body (`POST` without one is `{}`)."""
    if not request.can_read_body:
        return {}
    return await json_body(request)


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigError(f"{key} must be a time such as 2026-01-31T00:00:00+00:00, got {value!r}")
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    return value


def _number(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if isinstance(value, float) and value.is_integer():  # JSON's 2.0 is the whole number 2
        value = int(value)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{key} must be a whole number >= 1, got {value!r}")
    return value


def _count(request: web.Request) -> int:
    return query_int(request, "count", 100, minimum=1, maximum=1000) or 100


@routes.get("/api/schedules")
@needs("read", NOWHERE)
async def list_schedules(request: web.Request) -> web.Response:
    found = await off_loop(request.app, schedules.list_schedules, request.app[STORE],
                           last_id=query_int(request, "last_id"), count=_count(request))
    return web.json_response(model.Schedule.listing(visible(request, found)))


@routes.get("/api/projects/{id}/schedules")
@needs("read", "project")
async def project_schedules(request: web.Request) -> web.Response:
    found = await off_loop(request.app, schedules.list_schedules, request.app[STORE], project_id=int_id(request, "id"),
                           workflow=request.query.get("workflow"), last_id=query_int(request, "last_id"),
                           count=_count(request))
    return web.json_response(model.Schedule.listing(found))


@routes.get("/api/schedules/{id}")
@needs("read", "schedule")
async def get_schedule(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, schedules.get, request.app[STORE], int_id(request, "id")))


@routes.post("/api/schedules/{id}/skip")
@needs("run", "schedule")
async def skip(request: web.Request) -> web.Response:
    body = await _body(request)
    answer = await off_loop(request.app, schedules.skip, request.app[STORE], int_id(request, "id"),
                            next_time=_text(body, "nextTime"), count=_number(body, "count"),
                            from_time=_text(body, "fromTime"), next_run_time=_text(body, "nextRunTime"),
                            dry_run=_flag(body, "dryRun"))
    wake_scheduler(request.app)
    return web.json_response(answer)


@routes.post("/api/schedules/{id}/backfill")
@needs("run", "schedule")
async def backfill(request: web.Request) -> web.Response:
    body = await _body(request)
    from_time = _text(body, "fromTime")
    if from_time is None:
        raise ConfigError("fromTime is required: the first session time to run")
    name = body.get("attemptName")
    if not isinstance(name, str) or not name:
        raise ConfigError("attemptName is required (the name of the backfill's attempts)")
    answer = await off_loop(request.app, schedules.backfill, request.app[STORE], int_id(request, "id"),
                            from_time=from_time, attempt_name=name, count=_number(body, "count"),
                            parallel=_number(body, "parallel") or 1, dry_run=_flag(body, "dryRun"))
    if answer["attempts"]:
        wake_executor(request.app)
    return web.json_response(answer)


@routes.post("/api/schedules/{id}/enable")
@needs("run", "schedule")
async def enable(request: web.Request) -> web.Response:
    body = await _body(request)
    catch_up = _flag(body, "catchUp") or (body.get("skipSchedule") is False)  # Digdag's flag, the other way round
    answer = await off_loop(request.app, schedules.set_enabled, request.app[STORE], int_id(request, "id"), True,
                            catch_up=catch_up)
    wake_scheduler(request.app)
    return web.json_response(answer)


@routes.post("/api/schedules/{id}/disable")
@needs("run", "schedule")
async def disable(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, schedules.set_enabled, request.app[STORE],
                                            int_id(request, "id"), False))
