"""Projects, revisions, archives, workflows and project secrets."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web

from digpy.core.errors import ConfigError, NotFound, UnknownOperator
from digpy.core.language.builtins import format_session_time
from digpy.core.project import Project
from digpy.core.secrets import check_key, check_value
from digpy.core.store import catalog
from digpy.core.workflow.schedule import parse_schedule
from digpy.server.api import models
from digpy.server.api.params import int_id, json_body, local_time_or_instant, query_bool, query_int
from digpy.server.app import BOX, REGISTRY, SETTINGS, STORE
from digpy.server.archive import read_archive, unpack
from digpy.server.plugins import unknown_operator

routes = web.RouteTableDef()
_NAME = re.compile(r"^[^/\\\x00-\x1f]{1,255}$")


def _project_json(conn, row) -> dict:
    return models.project(row, catalog.latest_revision(conn, row["id"]))


@routes.get("/api/projects")
async def list_projects(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        rows = catalog.list_projects(conn, name=request.query.get("name"), last_id=query_int(request, "last_id"),
                                     count=query_int(request, "count", 100, minimum=1, maximum=1000) or 100)
        pattern = request.query.get("name_pattern")
        if pattern:
            rows = [r for r in rows if pattern in (r["name"] or "")]
        return web.json_response({"projects": [_project_json(conn, r) for r in rows]})


@routes.get("/api/projects/{id}")
async def get_project(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        return web.json_response(_project_json(conn, catalog.get_project(conn, int_id(request, "id"))))


@routes.delete("/api/projects/{id}")
async def delete_project(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project_id = int_id(request, "id")
        revision = catalog.latest_revision(conn, project_id)
        return web.json_response(models.project(catalog.delete_project(conn, project_id), revision))


@routes.put("/api/projects")
async def put_project(request: web.Request) -> web.Response:
    name = request.query.get("project", "")
    revision = request.query.get("revision", "")
    if not _NAME.match(name):
        raise ConfigError("query parameter project (the project name) is required and may not contain / or \\")
    if not _NAME.match(revision):
        raise ConfigError("query parameter revision is required")
    settings = request.app[SETTINGS]
    if request.content_length is not None and request.content_length > settings.max_archive_bytes:
        raise ConfigError(f"archive is {request.content_length} bytes; the limit is {settings.max_archive_bytes}")
    blob = await request.read()
    files = read_archive(blob, max_bytes=settings.max_archive_bytes)
    registry = request.app[REGISTRY]
    with tempfile.TemporaryDirectory(prefix="digpy-push-") as tmp:
        root = Path(tmp) / "project"
        unpack(files, root)
        project = Project(root)
        workflow_files = project.workflow_files()
        if not workflow_files:
            raise ConfigError("the archive has no .dig workflow at its top level")
        try:
            workflows = [project.load(path, operators=registry.names(), cache=False) for path in workflow_files]
        except UnknownOperator as e:
            raise unknown_operator(e) from None
    conn = request.app[STORE].conn
    with conn.begin():
        row = catalog.put_revision(conn, project=name, revision=revision, archive=blob,
                                   workflows=[(w.name, w.timezone, w.config) for w in workflows])
        return web.json_response(_project_json(conn, row))


@routes.get("/api/projects/{id}/revisions")
async def list_revisions(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project_id = catalog.get_project(conn, int_id(request, "id"))["id"]
        rows = catalog.list_revisions(conn, project_id)
        name = request.query.get("name")
        if name:
            rows = [r for r in rows if r["name"] == name]
        return web.json_response({"revisions": [models.revision(r) for r in rows]})


@routes.get("/api/projects/{id}/archive")
async def get_archive(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project = catalog.get_project(conn, int_id(request, "id"))
        revision = catalog.get_revision(conn, project["id"], request.query.get("revision"))
    return web.Response(body=revision["archive"] or b"", content_type="application/gzip",
                        headers={"Content-Disposition": f'attachment; filename="{project["name"]}.tar.gz"'})


@routes.get("/api/projects/{id}/workflows")
async def list_project_workflows(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project_id = catalog.get_project(conn, int_id(request, "id"))["id"]
        rows = catalog.list_workflows(conn, project_id, request.query.get("revision"), request.query.get("name"))
        return web.json_response({"workflows": [models.workflow(r) for r in rows]})


@routes.get("/api/projects/{id}/workflows/{name}")
async def get_project_workflow(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project = catalog.get_project(conn, int_id(request, "id"))
        rows = catalog.list_workflows(conn, project["id"], request.query.get("revision"), request.match_info["name"])
    if not rows:
        raise NotFound(f"workflow '{request.match_info['name']}' not found in project '{project['name']}'")
    return web.json_response(models.workflow(rows[0]))


@routes.get("/api/workflows")
async def list_workflows(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        order = request.query.get("order", "asc")
        if order not in ("asc", "desc"):
            raise ConfigError(f"order must be asc or desc, got '{order}'")
        rows = catalog.list_latest_workflows(conn, last_id=query_int(request, "last_id"),
                                             count=query_int(request, "count", 100, minimum=1, maximum=1000) or 100,
                                             name_pattern=request.query.get("name_pattern"),
                                             descending=order == "desc",
                                             search_project_name=query_bool(request, "search_project_name"))
        return web.json_response({"workflows": [models.workflow(r) for r in rows]})


@routes.get("/api/workflows/{id}")
async def get_workflow(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        return web.json_response(models.workflow(catalog.get_workflow(conn, int_id(request, "id"))))


_TRUNCATE = ("second", "minute", "hour", "day")


@routes.get("/api/workflows/{id}/truncated_session_time")
async def truncated_session_time(request: web.Request) -> web.Response:
    """`session_time` (local, or an instant) truncated in the workflow's zone by `mode`: second, minute,
    hour, day, schedule (the newest session of the schedule at or before it) or next_schedule."""
    conn = request.app[STORE].conn
    with conn.begin():
        row = catalog.get_workflow(conn, int_id(request, "id"))
    zone = ZoneInfo(row["timezone"])
    text = request.query.get("session_time")
    if not text:
        raise ConfigError("session_time is required, e.g. 2026-01-31 00:00:00 or 2026-01-31T00:00:00Z")
    at = local_time_or_instant(text, zone, "session_time")
    mode = request.query.get("mode", "second")
    if mode in _TRUNCATE:  # zero every field below the mode's
        at = at.replace(microsecond=0, **dict.fromkeys(_TRUNCATE[:_TRUNCATE.index(mode)], 0))
    elif mode in ("schedule", "next_schedule"):
        config = json.loads(row["config"]) if isinstance(row["config"], str) else row["config"]
        if not isinstance(config, dict) or not isinstance(config.get("schedule"), dict):
            raise ConfigError(f"workflow {row['name']} has no schedule: mode {mode} needs one")
        schedule = parse_schedule(config["schedule"], row["timezone"])
        slot = schedule.slot_at_or_before(at) if mode == "schedule" else schedule.next_slot(at)
        if slot is None:
            raise NotFound(f"the schedule of {row['name']} has no session {'at or before' if mode == 'schedule' else 'after'} {text}")
        at = slot.session_time
    else:
        raise ConfigError(f"mode must be second, minute, hour, day, schedule or next_schedule, got '{mode}'")
    return web.json_response({
        "project": {"id": str(row["project_id"]), "name": row["project_name"]},
        "revision": row["revision"],
        "sessionTime": format_session_time(at.astimezone(zone)),
        "timezone": row["timezone"],
    })


@routes.get("/api/projects/{id}/secrets")
async def list_secrets(request: web.Request) -> web.Response:
    conn = request.app[STORE].conn
    with conn.begin():
        project_id = catalog.get_project(conn, int_id(request, "id"))["id"]
        return web.json_response({"secrets": [{"key": k} for k in catalog.secret_keys(conn, project_id)]})


def _secret_key(request: web.Request) -> str:
    key = request.match_info["key"]
    check_key(key)
    return key


@routes.put("/api/projects/{id}/secrets/{key}")
async def put_secret(request: web.Request) -> web.Response:
    key = _secret_key(request)
    body = await json_body(request)
    value = body.get("value")
    if not isinstance(value, str):
        raise ConfigError('the body must be {"value": "..."}')
    check_value(key, value)
    conn = request.app[STORE].conn
    with conn.begin():
        project = catalog.get_project(conn, int_id(request, "id"))
        catalog.put_secret(conn, project["id"], key, request.app[BOX].encrypt(key, value))
    return web.json_response({"key": key, "project": {"id": str(project["id"]), "name": project["name"]}})


@routes.delete("/api/projects/{id}/secrets/{key}")
async def delete_secret(request: web.Request) -> web.Response:
    key = _secret_key(request)
    conn = request.app[STORE].conn
    with conn.begin():
        project = catalog.get_project(conn, int_id(request, "id"))
        if not catalog.delete_secret(conn, project["id"], key):
            raise NotFound(f"secret '{key}' not found")
    return web.json_response({"key": key, "project": {"id": str(project["id"]), "name": project["name"]}})
