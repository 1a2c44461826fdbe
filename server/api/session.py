"""The web UI's login: an API token exchanged for an HttpOnly, SameSite=Strict session cookie."""

from __future__ import annotations

from aiohttp import web

from digpy.client import model
from digpy.core.errors import ConfigError
from digpy.core.store.tokens import ANYONE, Principal
from digpy.server.api.params import json_body
from digpy.server.security import COOKIE, GATE, PUBLIC, needs, principal_of, unauthorized

routes = web.RouteTableDef()
MAX_AGE = 7 * 24 * 3600  # a week; the token's revocation ends it earlier


async def _answer(request: web.Request, principal: Principal) -> web.Response:
    auth_on = await request.app[GATE].auth_on(request.app)
    known = principal is not ANYONE
    return web.json_response(model.SessionInfo(
        auth_required=auth_on, name=principal.name if known else None,
        server_admin=principal.server_admin if known else not auth_on,
        grants=dict(principal.grants) if known else {}).to_json())


@routes.get("/api/session")
@needs("read", PUBLIC)
async def who(request: web.Request) -> web.Response:
    return await _answer(request, principal_of(request))


@routes.post("/api/session")
@needs("read", PUBLIC)
async def log_in(request: web.Request) -> web.Response:
    body = await json_body(request)
    token = body.get("token")
    if not isinstance(token, str) or not token.strip():
        raise ConfigError('the body must be {"token": "..."} (an API token from `digpy token create`)')
    principal = await request.app[GATE].principal(request.app, token.strip())
    if principal is None:
        return unauthorized("the API token is not valid (unknown or revoked)")
    response = await _answer(request, principal)
    response.set_cookie(COOKIE, token.strip(), max_age=MAX_AGE, path="/", httponly=True, samesite="Strict",
                        secure=request.secure)
    return response


@routes.delete("/api/session")
@needs("read", PUBLIC)
async def log_out(request: web.Request) -> web.Response:
    response = await _answer(request, ANYONE)
    response.del_cookie(COOKIE, path="/")
    return response
