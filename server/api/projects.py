"""Projects, revisions, archives, workflows and project secrets."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from aiohttp import web

from digpy.client import model
from digpy.core.errors import ConfigError
from digpy.core.language.builtins import local_time_or_instant
from digpy.server.api.params import int_id, json_body, query_bool, query_int
from digpy.server.keys import BOX, REGISTRY, SETTINGS, STORE, off_loop, wake_scheduler
from digpy.server.security import NOWHERE, needs, visible
from digpy.server.services import projects, secrets

routes = web.RouteTableDef()
_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,255}$")


def _count(request: web.Request) -> int:
    return query_int(request, "count", 100, minimum=1, maximum=1000) or 100


@routes.get("/api/projects")
@needs("read", NOWHERE)
async def list_projects(request: web.Request) -> web.Response:
    found = await off_loop(request.app, projects.list_projects, request.app[STORE], name=request.query.get("name"),
                           name_pattern=request.query.get("name_pattern"), last_id=query_int(request, "last_id"),
                           count=_count(request))
    return web.json_response(model.Project.listing(visible(request, found)))


@routes.get("/api/projects/{id}")
@needs("read", "project")
async def get_project(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, projects.get_project, request.app[STORE],
                                            int_id(request, "id")))


@routes.delete("/api/projects/{id}")
@needs("write", "project")
async def delete_project(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, projects.delete_project, request.app[STORE],
                                            int_id(request, "id")))


@routes.put("/api/projects")
@needs("write", "push")
async def put_project(request: web.Request) -> web.Response:
    name = request.query.get("project", "")
    revision = request.query.get("revision", "")
    if not _NAME.match(name):
        raise ConfigError("query parameter project (the project name) is required and may not contain / or \\")
    if not _NAME.match(revision):
        raise ConfigError("query parameter revision is required")
    limit = request.app[SETTINGS].max_archive_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ConfigError(f"archive is {request.content_length} bytes; the limit is {limit}")
    blob = await request.read()
    pushed = await off_loop(request.app, projects.push, request.app[STORE], request.app[REGISTRY],
                            name=name, revision=revision, archive=blob, max_bytes=limit,
                            queues=request.app[SETTINGS].queues)
    wake_scheduler(request.app)  # its schedules may have changed
    return web.json_response(pushed)


@routes.get("/api/projects/{id}/revisions")
@needs("read", "project")
async def list_revisions(request: web.Request) -> web.Response:
    found = await off_loop(request.app, projects.list_revisions, request.app[STORE], int_id(request, "id"),
                           name=request.query.get("name"))
    return web.json_response(model.Revision.listing(found))


@routes.get("/api/projects/{id}/archive")
@needs("read", "project")
async def get_archive(request: web.Request) -> web.Response:
    name, archive = await off_loop(request.app, projects.archive, request.app[STORE], int_id(request, "id"),
                                   request.query.get("revision"))
    return web.Response(body=archive, content_type="application/gzip",
                        headers={"Content-Disposition": f'attachment; filename="{name}.tar.gz"'})


@routes.get("/api/projects/{id}/workflows")
@needs("read", "project")
async def list_project_workflows(request: web.Request) -> web.Response:
    found = await off_loop(request.app, projects.project_workflows, request.app[STORE], int_id(request, "id"),
                           revision=request.query.get("revision"), name=request.query.get("name"))
    return web.json_response(model.Workflow.listing(found))


@routes.get("/api/projects/{id}/workflows/{name}")
@needs("read", "project")
async def get_project_workflow(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, projects.project_workflow, request.app[STORE],
                                            int_id(request, "id"), request.match_info["name"],
                                            revision=request.query.get("revision")))


@routes.get("/api/workflows")
@needs("read", NOWHERE)
async def list_workflows(request: web.Request) -> web.Response:
    order = request.query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise ConfigError(f"order must be asc or desc, got '{order}'")
    found = await off_loop(request.app, projects.latest_workflows, request.app[STORE],
                           last_id=query_int(request, "last_id"), count=_count(request),
                           name_pattern=request.query.get("name_pattern"), descending=order == "desc",
                           search_project_name=query_bool(request, "search_project_name"))
    return web.json_response(model.Workflow.listing(visible(request, found)))


@routes.get("/api/workflows/{id}")
@needs("read", "workflow")
async def get_workflow(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, projects.get_workflow, request.app[STORE],
                                            int_id(request, "id")))


@routes.get("/api/workflows/{id}/tasks")
@needs("read", "workflow")
async def workflow_tasks(request: web.Request) -> web.Response:
    found = await off_loop(request.app, projects.workflow_tasks, request.app[STORE], request.app[REGISTRY],
                           int_id(request, "id"))
    return web.json_response(model.WorkflowTask.listing(found))


@routes.get("/api/workflows/{id}/truncated_session_time")
@needs("read", "workflow")
async def truncated_session_time(request: web.Request) -> web.Response:
    """`session_time` (local, or an instant) truncated in the workflow's zone by `mode`."""
    row = await off_loop(request.app, projects.workflow_row, request.app[STORE], int_id(request, "id"))
    text = request.query.get("session_time")
    if not text:
        raise ConfigError("session_time is required, e.g. 2026-01-31 00:00:00 or 2026-01-31T00:00:00Z")
    at = local_time_or_instant(text, ZoneInfo(row["timezone"]), "session_time")
    return web.json_response(projects.truncated_session_time(row, at, request.query.get("mode", "second"), text))


@routes.get("/api/projects/{id}/secrets")
@needs("admin", "project")
async def list_secrets(request: web.Request) -> web.Response:
    keys = await off_loop(request.app, secrets.keys, request.app[STORE], int_id(request, "id"))
    return web.json_response(model.SecretKey.listing([model.SecretKey(key=k).to_json() for k in keys]))


@routes.put("/api/projects/{id}/secrets/{key}")
@needs("admin", "project")
async def put_secret(request: web.Request) -> web.Response:
    body = await json_body(request)
    value = body.get("value")
    if not isinstance(value, str):
        raise ConfigError('the body must be {"value": "..."}')
    return web.json_response(await off_loop(request.app, secrets.put, request.app[STORE], request.app[BOX],
                                            int_id(request, "id"), request.match_info["key"], value))


@routes.delete("/api/projects/{id}/secrets/{key}")
@needs("admin", "project")
async def delete_secret(request: web.Request) -> web.Response:
    return web.json_response(await off_loop(request.app, secrets.delete, request.app[STORE],
                                            int_id(request, "id"), request.match_info["key"]))
