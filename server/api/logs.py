"""Task logs: list an attempt's files, download one (gzip, as Digdag), or read it from an offset."""

from __future__ import annotations

import gzip

from aiohttp import web

from digpy.client import model
from digpy.core.errors import NotFound
from digpy.server import rest
from digpy.server.api.params import int_id, query_int
from digpy.server.keys import LOGS, STORE, off_loop
from digpy.server.security import needs
from digpy.server.services import attempts

routes = web.RouteTableDef()
MAX_READ = 8 * 1024 * 1024


@routes.get("/api/logs/{id}/files")
@needs("read", "attempt")
async def list_files(request: web.Request) -> web.Response:
    attempt_id = int_id(request, "id")
    started = await off_loop(request.app, attempts.task_start_times, request.app[STORE], attempt_id)
    files = request.app[LOGS].files(attempt_id, request.query.get("task"), started)  # in the order they ran
    return web.json_response(model.LogFile.listing([rest.log_file(f) for f in files]))


@routes.get("/api/logs/{id}/files/{name}")
@needs("read", "attempt")
async def get_file(request: web.Request) -> web.StreamResponse:
    """The whole file gzip-compressed; with `offset`, the plain text from that byte on (for log -f)."""
    attempt_id = int_id(request, "id")
    offset = query_int(request, "offset", minimum=0)
    name = request.match_info["name"]
    path = request.app[LOGS].path(attempt_id, name)
    if path is None:
        raise NotFound(f"log file {name} of attempt {attempt_id} not found")
    if offset is None:
        return web.Response(body=gzip.compress(path.read_bytes()), content_type="application/gzip")
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(MAX_READ)
    return web.Response(body=data, content_type="text/plain", charset="utf-8",
                        headers={"X-Digpy-Next-Offset": str(offset + len(data))})
