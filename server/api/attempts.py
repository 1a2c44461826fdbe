"""Sessions, attempts (start, retry, kill) and their tasks."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from aiohttp import web

from digpy.core.errors import ConfigError, Conflict, NotFound
from digpy.core.store import SUCCESS, catalog
from digpy.core.workflow.resume import forced_tasks
from digpy.core.workflow.tree import compile_workflow
from digpy.server.api import models
from digpy.server.api.params import int_id, json_body, parse_id, query_bool, query_int
from digpy.server.app import STORE, wake_executor
from digpy.server.sessions import start_attempt

routes = web.RouteTableDef()
MAX_PAGE = 1000


def _page(request: web.Request) -> dict[str, Any]:
    return {"last_id": query_int(request, "last_id"),
            "page_size": query_int(request, "page_size", 100, minimum=1, maximum=MAX_PAGE) or 100}


def _sessions_json(conn, rows) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        last = catalog.get_attempt(conn, row["last_attempt_id"]) if row["last_attempt_id"] else None
        out.append(models.session(row, last))
    return out


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        return web.json_response({"sessions": _sessions_json(conn, catalog.list_sessions(conn, **_page(request)))})


@routes.get("/api/projects/{id}/sessions")
async def list_project_sessions(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project_id = catalog.get_project(conn, int_id(request, "id"))["id"]
        rows = catalog.list_sessions(conn, project_id=project_id, workflow=request.query.get("workflow"),
                                     **_page(request))
        return web.json_response({"sessions": _sessions_json(conn, rows)})


@routes.get("/api/sessions/{id}")
async def get_session(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        return web.json_response(_sessions_json(conn, [catalog.get_session(conn, int_id(request, "id"))])[0])


@routes.get("/api/sessions/{id}/attempts")
async def session_attempts(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        session_id = catalog.get_session(conn, int_id(request, "id"))["id"]
        rows = catalog.list_attempts(conn, session_id=session_id, **_page(request))
        return web.json_response({"attempts": [models.attempt(r) for r in rows]})


@routes.get("/api/attempts")
async def list_attempts(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project_id = None
        name = request.query.get("project")
        if name:
            found = catalog.find_project(conn, name)
            if found is None:
                raise NotFound(f"project '{name}' not found")
            project_id = found["id"]
        rows = catalog.list_attempts(conn, project_id=project_id, workflow=request.query.get("workflow"),
                                     include_retried=query_bool(request, "include_retried"), **_page(request))
        return web.json_response({"attempts": [models.attempt(r) for r in rows]})


@routes.get("/api/attempts/{id}")
async def get_attempt(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        return web.json_response(models.attempt(catalog.get_attempt(conn, int_id(request, "id"))))


@routes.get("/api/attempts/{id}/retries")
async def attempt_retries(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        attempt = catalog.get_attempt(conn, int_id(request, "id"))
        rows = catalog.list_attempts(conn, session_id=attempt["session_id"], page_size=MAX_PAGE)
        return web.json_response({"attempts": [models.attempt(r) for r in reversed(rows)]})


@routes.get("/api/attempts/{id}/tasks")
async def attempt_tasks(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        attempt_id = catalog.get_attempt(conn, int_id(request, "id"))["id"]
        return web.json_response({"tasks": [models.task(r) for r in catalog.list_task_rows(conn, attempt_id)]})


@routes.put("/api/attempts")
async def start(request: web.Request) -> web.Response:
    """Start an attempt; a second start of the same session and attempt name is 409 with the first."""
    body = await json_body(request)
    if body.get("workflowId") is None:
        raise ConfigError("workflowId is required")
    workflow_id = parse_id(body["workflowId"], "workflowId")
    session_time = _instant(body.get("sessionTime"))
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise ConfigError("params must be a JSON object")
    name = body.get("retryAttemptName")
    resume = body.get("resume")
    store = request.app[STORE]
    conn = store.conn
    with conn.begin():
        definition = catalog.get_workflow(conn, workflow_id)
    session = store.session_for(int(definition["project_id"]), definition["name"], int(session_time.timestamp()))
    with conn.begin():
        existing = catalog.find_attempt(conn, session.id, name)
        if existing is not None:
            return web.json_response(models.attempt(existing), status=409)
        resume_from = _resume(conn, resume, session.id, definition) if resume else None
    attempt = start_attempt(store, session, definition_id=int(definition["id"]), timezone=definition["timezone"],
                            params=params, attempt_name=name)
    if resume_from is not None:
        with conn.begin():
            catalog.set_resume(conn, int(attempt["id"]), **resume_from)
    wake_executor(request.app)
    return web.json_response(models.attempt(attempt))


def _resume(conn, resume: Any, session_id: int, definition: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(resume, dict) or resume.get("mode") not in ("failed", "from"):
        raise ConfigError('resume must be {"mode": "failed"|"from", "attemptId": ..., "from": "+task"}')
    if resume.get("attemptId") is None:
        raise ConfigError("resume needs attemptId: the attempt to resume")
    source = catalog.get_attempt(conn, parse_id(resume["attemptId"], "resume.attemptId"))
    if source["session_id"] != session_id:
        raise ConfigError(f"attempt {source['id']} belongs to another session")
    if resume["mode"] == "failed" and source["state_flags"] & SUCCESS:
        raise Conflict(f"attempt {source['id']} succeeded; there is nothing failed to resume")
    if resume["mode"] == "from":
        if not isinstance(resume.get("from"), str):
            raise ConfigError('resume mode "from" needs "from": "+task"')
        workflow = compile_workflow(definition["name"], json.loads(definition["config"]))
        forced_tasks(workflow.tasks, start=resume["from"])  # a task that is not there: 400 now, not a failed attempt
    return {"from_attempt": int(source["id"]), "mode": resume["mode"], "task": resume.get("from")}


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
async def kill(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        attempt = catalog.request_kill(conn, int_id(request, "id"))
    wake_executor(request.app)
    return web.json_response(models.attempt(attempt))
