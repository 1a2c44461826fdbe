"""Version and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from digpy import __version__
from digpy.client import model
from digpy.server.security import PUBLIC, needs

routes = web.RouteTableDef()


@routes.get("/api/version")
@needs("read", PUBLIC)
async def version(request: web.Request) -> web.Response:
    return web.json_response(model.Version(version=__version__).to_json())


@routes.get("/api/version/check")
@needs("read", PUBLIC)
async def version_check(request: web.Request) -> web.Response:
    return web.json_response(model.VersionCheck(server_version=__version__, upgrade_recommended=False,
                                                 api_compatible=True).to_json())


@routes.get("/api/openapi.json")
@needs("read", PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    from digpy.server.api.openapi import document

    return web.json_response(document())
