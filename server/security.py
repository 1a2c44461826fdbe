"""Who may reach the server and do what: the Host check (DNS rebinding), the cross-site check on
mutating requests (CSRF), and API tokens with their roles (docs/security.md).

Every route declares what it needs with `needs(role, scope)`; the middleware refuses a route that
declares nothing, so that a new endpoint cannot be open by omission. The scope says where the
project whose role counts is found: the path's id (a project, attempt, session, schedule or
workflow), the `project` query parameter (a push), the `workflowId` of the JSON body (a start), or
nowhere (a listing, which shows only what the caller may read: `visible`).

A token comes as `Authorization: Bearer TOKEN` or, from the web UI, in the session cookie that
`POST /api/session` sets. With no live token and no `--auth required` (the loopback mode), everyone
may do everything. Lookups go to the database in its threads and are kept for CACHE_SECONDS, so a
revoked token stops working within that time.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from digpy.core.store import tokens
from digpy.core.store.tokens import ANYONE, ROLES, Principal
from digpy.server.app import error_body
from digpy.server.keys import STORE, off_loop

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC = "public"  # no token needed (the version, this API's document, logging in, the UI's files)
NOWHERE = "none"  # no project in particular: a listing, filtered by `visible`
SCOPES = (PUBLIC, NOWHERE, "project", "attempt", "session", "schedule", "workflow", "push", "start")
MUTATING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
BODY_TYPES = frozenset({"application/json", "application/gzip", "application/x-gzip"})
COOKIE = "digpy_session"
CACHE_SECONDS = 2.0
PRINCIPAL = web.RequestKey("principal", Principal)
_ACTIONS = {"read": "read", "run": "run or kill attempts or change schedules of",
            "write": "push to or delete", "admin": "read or change the secrets of"}


@dataclass(frozen=True)
class Permission:
    role: str
    scope: str


def needs(role: str, scope: str) -> Callable[[F], F]:
    """Declare what a handler needs: `role` (read, run, write, admin; ignored for `public`) on the
    project `scope` names."""
    assert role in ROLES and scope in SCOPES, (role, scope)

    def mark(handler: F) -> F:
        handler.permission = Permission(role, scope)  # type: ignore[attr-defined]
        return handler

    return mark


def permission_of(handler: Any) -> Permission | None:
    return getattr(handler, "permission", None)


# -------------------------------------------------------------------------------- Host and origin


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    """The name of a Host header (without its port; an IPv6 address without brackets)."""
    if header.startswith("["):
        return header[1:].partition("]")[0].lower()
    return header.rpartition(":")[0].lower() if header.count(":") == 1 else header.lower()


def allowed_hosts(bind: str, extra: Iterable[str]) -> frozenset[str]:
    """The Host names the server answers besides loopback ones: --allow-host, and the address it
    listens on when that is one address (not 0.0.0.0 or ::)."""
    names = {h.strip().lower().strip("[]") for h in extra if h.strip()}
    if bind not in ("0.0.0.0", "::", ""):
        names.add(bind.lower().strip("[]"))
    return frozenset(names)


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_error(request: web.Request, allowed: frozenset[str]) -> web.Response | None:
    """Names must be known; an IP address as Host is always answered: DNS rebinding needs a name
    (the attacker's), so a request addressed to a bare IP address cannot be one."""
    header = request.headers.get("Host")
    if not header:
        return error_body("the request has no Host header", 400)
    name = _host_name(header)
    if "*" in allowed or name in allowed or is_loopback(name) or _is_address(name):
        return None
    return error_body(f"this server does not answer for host '{name}'; if it should, start it with "
                      f"--allow-host {name}", 421)


def _origin_error(request: web.Request, by_cookie: bool) -> web.Response | None:
    """A mutating request must come from this server's own origin (or from no browser at all), with
    a body of JSON or an archive: a form or text/plain post from another site is refused."""
    site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if site is not None and site not in ("same-origin", "none"):
        return error_body(f"cross-site request refused ({request.method} from a {site} page)", 403)
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc.lower() != request.headers.get("Host", "").lower():
            return error_body(f"cross-site request refused (Origin {origin} is not this server)", 403)
    elif by_cookie:
        return error_body("a request authenticated by the session cookie must carry an Origin header", 403)
    content_type = request.headers.get("Content-Type")
    if content_type is not None:
        if request.content_type not in BODY_TYPES:
            return error_body(f"a {request.content_type or 'typeless'} body is not accepted here; send "
                              f"application/json (or application/gzip for an archive)", 415)
    elif request.can_read_body:
        return error_body("the body has no Content-Type; send application/json (or application/gzip for an "
                          "archive)", 415)
    return None


# -------------------------------------------------------------------------------- tokens


class Gate:
    """Token lookups and whether authentication is on, each kept for CACHE_SECONDS."""

    def __init__(self, required: bool) -> None:
        self.required = required
        self._on: tuple[bool, float] = (required, 0.0)
        self._known: dict[str, tuple[Principal | None, float]] = {}
        self.owners: dict[tuple[str, int], str] = {}  # (kind, id) -> the name of its project

    async def auth_on(self, app: web.Application) -> bool:
        if self.required:
            return True
        value, until = self._on
        if time.monotonic() >= until:
            value = await off_loop(app, _any_live, app[STORE])
            self._on = (value, time.monotonic() + CACHE_SECONDS)
        return value

    async def principal(self, app: web.Application, token: str) -> Principal | None:
        found = self._known.get(token)
        if found is not None and time.monotonic() < found[1]:
            return found[0]
        principal = await off_loop(app, _lookup, app[STORE], token)
        if len(self._known) > 10_000:  # guessed tokens must not grow it without end
            self._known.clear()
        self._known[token] = (principal, time.monotonic() + CACHE_SECONDS)
        return principal


GATE = web.AppKey("gate", Gate)


def _any_live(store: Any) -> bool:
    with store.begin() as conn:
        return tokens.any_live(conn)


def _lookup(store: Any, token: str) -> Principal | None:
    with store.begin() as conn:
        principal = tokens.lookup(conn, token)
        if principal is not None and principal.token_id is not None:
            tokens.touch(conn, principal.token_id, time.time())  # at most once per CACHE_SECONDS
        return principal


def _project(store: Any, kind: str, resource_id: int) -> str | None:
    with store.begin() as conn:
        return tokens.project_of(conn, kind, resource_id)


async def _project_of(app: web.Application, kind: str, resource_id: int) -> str | None:
    """The project of a resource; kept, as a resource never moves to another project."""
    owners = app[GATE].owners
    key = (kind, resource_id)
    found = owners.get(key)
    if found is None:
        found = await off_loop(app, _project, app[STORE], kind, resource_id)
        if found is not None:  # one that does not exist yet may be created
            if len(owners) >= 100_000:
                owners.clear()
            owners[key] = found
    return found


def presented_token(request: web.Request) -> tuple[str | None, bool]:
    """The token a request carries, and whether it came in the session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(COOKIE)
    return (cookie, True) if cookie else (None, False)


def unauthorized(message: str) -> web.Response:
    response = error_body(message, 401)
    response.headers["WWW-Authenticate"] = 'Bearer realm="digpy"'
    return response


async def _target(request: web.Request, scope: str) -> tuple[bool, str | None]:
    """(whether the scope names a project, its name or None when the resource does not exist)."""
    from digpy.server.api.params import parse_id

    if scope == NOWHERE:
        return False, None
    if scope == "push":
        return True, request.query.get("project") or None
    if scope == "start":
        try:
            body = await request.json()
            workflow_id = parse_id(body.get("workflowId"), "workflowId") if isinstance(body, dict) else None
        except Exception:  # a bad body: the handler says what is wrong with it
            return False, None
        return (True, None) if workflow_id is None else (True, await _project_of(request.app, "workflow", workflow_id))
    raw = request.match_info.get("id", "")
    if not raw.isdigit() or len(raw) > 18:
        return False, None
    return True, await _project_of(request.app, scope, int(raw))


def _denied(principal: Principal, permission: Permission, project: str | None) -> web.Response:
    what = f"project '{project}'" if project else "any project"
    create = f"digpy token create NAME --project {project or 'P'} --role {permission.role}"
    return error_body(f"token '{principal.name}' may not {_ACTIONS[permission.role]} {what} (that needs the "
                      f"{permission.role} role; a server admin can create a token with it: `{create}`)", 403)


@web.middleware
async def security(request: web.Request, handler: Any) -> web.StreamResponse:
    app = request.app
    refused = _host_error(request, app[ALLOWED])
    if refused is not None:
        return refused
    token, by_cookie = presented_token(request)
    if request.method in MUTATING:
        refused = _origin_error(request, by_cookie)
        if refused is not None:
            return refused
    permission = permission_of(request.match_info.handler)
    if permission is None:
        if request.match_info.http_exception is None and not request.path.startswith("/ui/"):
            return error_body(f"{request.method} {request.path} declares no permission (a bug)", 500)
        request[PRINCIPAL] = ANYONE  # the UI's static files, and answers such as 404 and 405
        response: web.StreamResponse = await handler(request)
        return response
    gate = app[GATE]
    principal = ANYONE
    if permission.scope != PUBLIC and await gate.auth_on(app):
        if token is None:
            return unauthorized("this server needs an API token: send `Authorization: Bearer TOKEN` (the CLI: "
                                 "set DIGPY_TOKEN); a server admin creates one with `digpy token create NAME`")
        found = await gate.principal(app, token)
        if found is None:
            return unauthorized("the API token is not valid (unknown or revoked); ask a server admin for a new one "
                                 "(`digpy token create NAME`)")
        principal = found
        if not principal.everywhere(permission.role):  # else no need to find the project
            names, project = await _target(request, permission.scope)
            if not principal.allows(permission.role, project if names else None):  # None: on some project
                return _denied(principal, permission, project)
    elif permission.scope == PUBLIC and token is not None:
        principal = await gate.principal(app, token) or ANYONE
    request[PRINCIPAL] = principal
    response = await handler(request)
    return response


def visible(request: web.Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Of a listing's items (projects, or resources with a `project`), those the caller may read."""
    principal = principal_of(request)
    if principal.everywhere("read"):
        return items
    return [i for i in items if principal.allows("read", _project_name(i))]


def _project_name(item: dict[str, Any]) -> str:
    project = item.get("project")
    if isinstance(project, dict):
        return str(project.get("name") or "")
    return str(item.get("name") or "")


ALLOWED = web.AppKey("allowed_hosts", frozenset)


def install(app: web.Application, *, bind: str, allow_hosts: Iterable[str], auth_required: bool) -> None:
    """Set up the middleware's state (the middleware itself is in the app's list)."""
    app[ALLOWED] = allowed_hosts(bind, allow_hosts)
    app[GATE] = Gate(auth_required)


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL] if PRINCIPAL in request else ANYONE

