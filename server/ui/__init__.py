"""The web UI: every page has a stable URL that answers the same HTML shell, and JavaScript modules
(static files of this package, written here, no build step) draw the page from the REST API, the
same API the CLI uses, and keep it live with its server-sent events (docs/ui.md)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from digpy.server.security import PUBLIC, needs

STATIC = Path(__file__).parent / "static"
CATCH_ALL = "unknown-path"  # the name of the last route: a path that is no page and no API route (404)
# The pages (docs/ui.md): each answers the shell, whose modules read the path.
PAGES = ("/", "/projects", "/projects/{id}", "/projects/{id}/workflows/{name}", "/workflows/{id}",
         "/sessions/{id}", "/attempts", "/attempts/{id}", "/schedules")
# Same origin only: no inline script, nothing from elsewhere, never inside another site's frame.
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": POLICY, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache"}


@needs("read", PUBLIC)
async def _shell(request: web.Request, status: int = 200) -> web.Response:
    return web.Response(body=(STATIC / "index.html").read_bytes(), content_type="text/html", charset="utf-8",
                        headers=_HEADERS, status=status)


@needs("read", PUBLIC)
async def _unknown(request: web.Request) -> web.Response:
    """A path that is no page: the API's is a JSON error, a browser's the shell, which says so in a line."""
    if request.path.startswith(("/api/", "/ui/")):
        raise web.HTTPNotFound()
    return await _shell(request, 404)


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith("/ui/"):  # revalidated on each load: a new digpy's files are seen at once
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"


def add_routes(app: web.Application) -> None:
    for page in PAGES:
        app.router.add_get(page, _shell)
    app.router.add_static("/ui/", STATIC)
    app.router.add_get("/{path:.*}", _unknown, name=CATCH_ALL)  # last: after every route of the API
    app.on_response_prepare.append(_static_headers)
