"""Version and the OpenAPI document."""

from __future__ import annotations

from aiohttp import web

from digpy import __version__

routes = web.RouteTableDef()


@routes.get("/api/version")
async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": __version__})


@routes.get("/api/version/check")
async def version_check(request: web.Request) -> web.Response:
    return web.json_response({"serverVersion": __version__, "upgradeRecommended": False, "apiCompatible": True})


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    from digpy.server.api.openapi import document

    return web.json_response(document())
