"""Sessions, attempts (start, retry, kill) and their tasks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from digpy.client import model
from digpy.core.errors import ConfigError
from digpy.core.store.catalog import STATUS_FLAGS
from digpy.server.api.params import int_id, json_body, parse_id, query_bool, query_int
from digpy.server.keys import STORE, off_loop, wake_executor
from digpy.server.security import NOWHERE, needs, visible
from digpy.server.services import attempts

routes = web.RouteTableDef()


def _page(request: web.Request) -> dict[str, Any]:
    return {"last_id": query_int(request, "last_id"),
            "page_size": query_int(request, "page_size", 100, minimum=1, maximum=attempts.MAX_PAGE) or 100}


@routes.get("/api/sessions")
@needs("read", NOWHERE)
async def list_sessions(request: web.Request) -> web.Response:
    found = await off_loop(request.app, attempts.list_sessions, request.app[STORE], **_page(request))
    return web.json_response(model.Session.listing(visible(request, found)))


@routes.get("/api/projects/{id}/sessions")
@needs("read", "project")
async def list_project_sessions(request: web.Request) -> web.Response:
    found = await off_loop(request.app, attempts.list_sessions, request.app[STORE], project_id=int_id(request, "id"),
                           workflow=request.query.get("workflow"), **_page(request))
    return web.json_response(model.Session.listing(found))


@routes.get("/api/sessions/{id}")
@needs("read", "session")
async def get_session(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, attempts.get_session, request.app[STORE],
                                            int_id(request, "id")))


@routes.get("/api/sessions/{id}/attempts")
@needs("read", "session")
async def session_attempts(request: web.Request) -> web.Response:
    found = await off_loop(request.app, attempts.session_attempts, request.app[STORE], int_id(request, "id"),
                           **_page(request))
    return web.json_response(model.Attempt.listing(found))


@routes.get("/api/attempts")
@needs("read", NOWHERE)
async def list_attempts(request: web.Request) -> web.Response:
    status = request.query.get("status") or None
    if status is not None and status not in STATUS_FLAGS:
        raise ConfigError(f"status must be one of {', '.join(STATUS_FLAGS)}, got '{status}'")
    found = await off_loop(request.app, attempts.list_attempts, request.app[STORE],
                           project=request.query.get("project") or None, workflow=request.query.get("workflow") or None,
                           include_retried=query_bool(request, "include_retried"), status=status, **_page(request))
    return web.json_response(model.Attempt.listing(visible(request, found)))


@routes.get("/api/attempts/{id}")
@needs("read", "attempt")
async def get_attempt(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, attempts.get_attempt, request.app[STORE],
                                            int_id(request, "id")))


@routes.get("/api/attempts/{id}/retries")
@needs("read", "attempt")
async def attempt_retries(request: web.Request) -> web.Response:
    found = await off_loop(request.app, attempts.attempt_retries, request.app[STORE], int_id(request, "id"))
    return web.json_response(model.Attempt.listing(found))


@routes.get("/api/attempts/{id}/requires")
@needs("read", "attempt")
async def attempt_requires(request: web.Request) -> web.Response:
    found = await off_loop(request.app, attempts.requires, request.app[STORE], int_id(request, "id"))
    return web.json_response(model.Attempt.listing(visible(request, found)))


@routes.get("/api/attempts/{id}/required_by")
@needs("read", "attempt")
async def attempt_required_by(request: web.Request) -> web.Response:
    found = await off_loop(request.app, attempts.required_by, request.app[STORE], int_id(request, "id"))
    return web.json_response(model.Attempt.listing(visible(request, found)))


@routes.get("/api/attempts/{id}/tasks")
@needs("read", "attempt")
async def attempt_tasks(request: web.Request) -> web.Response:
    found = await off_loop(request.app, attempts.attempt_tasks, request.app[STORE], int_id(request, "id"))
    return web.json_response(model.Task.listing(found))


@routes.put("/api/attempts")
@needs("run", "start")
async def start(request: web.Request) -> web.Response:
    """Start an attempt; a second start of the same session and attempt name is 409 with the first.
    With `"bypassQueue": true` it does not wait in its workflow's queue."""
    body = await json_body(request)
    if body.get("workflowId") is None:
        raise ConfigError("workflowId is required")
    workflow_id = parse_id(body["workflowId"], "workflowId")
    session_time = _instant(body.get("sessionTime"))
    params = body.get("params")
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ConfigError("params must be a JSON object")
    resume = _resume(body["resume"]) if body.get("resume") not in (None, {}) else None
    name = body.get("retryAttemptName")
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"retryAttemptName must be a string, got {json.dumps(name)}")
    bypass = body.get("bypassQueue", False)  # digpy's: start at once, not waiting in the workflow's queue
    if not isinstance(bypass, bool):
        raise ConfigError(f"bypassQueue must be true or false, got {json.dumps(bypass)}")
    attempt, created = await off_loop(
        request.app, attempts.start, request.app[STORE], workflow_id=workflow_id, session_time=session_time,
        params=params, attempt_name=name, resume=resume, bypass_queue=bypass)
    if not created:
        return web.json_response(attempt, status=409)
    wake_executor(request.app)
    return web.json_response(attempt)


def _resume(resume: Any) -> dict[str, Any]:
    if not isinstance(resume, dict) or resume.get("mode") not in ("failed", "from"):
        raise ConfigError('resume must be {"mode": "failed"|"from", "attemptId": ..., "from": "+task"}')
    if resume.get("attemptId") is None:
        raise ConfigError("resume needs attemptId: the attempt to resume")
    if resume["mode"] == "from" and not isinstance(resume.get("from"), str):
        raise ConfigError('resume mode "from" needs "from": "+task"')
    return {"mode": resume["mode"], "attemptId": parse_id(resume["attemptId"], "resume.attemptId"),
            "from": resume.get("from")}


def _instant(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ConfigError("sessionTime is required (an ISO-8601 time such as 2026-01-01T00:00:00Z)")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ConfigError(f"sessionTime must be an ISO-8601 time with an offset, got '{value}'")
    return parsed


@routes.post("/api/attempts/{id}/kill")
@needs("run", "attempt")
async def kill(request: web.Request) -> web.Response:
    attempt = await off_loop(request.app, attempts.kill, request.app[STORE], int_id(request, "id"))
    wake_executor(request.app)
    return web.json_response(attempt)
