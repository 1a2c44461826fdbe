"""Server-sent events: an attempt and its tasks, the attempts that start or end, a task log as it
grows. Each stream waits on the event hub (digpy.server.events) and reads what changed through
digpy.server.services.live; nothing polls the database on a timer. A stream ends when what it
follows is over (an `end` event) or when the server stops; a comment line every HEARTBEAT seconds
keeps proxies from closing it and finds clients that have gone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from digpy.core.errors import NotFound
from digpy.server.api.params import int_id, query_int
from digpy.server.keys import HUB, LOGS, SNAPSHOTS, STORE, off_loop
from digpy.server.security import NOWHERE, needs, visible
from digpy.server.services import attempts, live

routes = web.RouteTableDef()
HEARTBEAT = 15.0
LOG_IDLE = 0.25  # how often a followed log file is looked at while it does not grow (a stat)


def _pause(elapsed: float) -> float:
    """After a read that took `elapsed` seconds, wait this long before the next (changes that come
    meanwhile are read together): a busy attempt costs a bounded share of the database."""
    return min(1.0, max(0.05, 4 * elapsed))


async def _open(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    return response


async def _send(response: web.StreamResponse, event: str, data: Any) -> None:
    await _write(response, event, live.encode(data))


async def _write(response: web.StreamResponse, event: str, text: str) -> None:
    """An event whose data is already encoded (one line of JSON)."""
    await response.write(f"event: {event}\ndata: {text}\n\n".encode())


@routes.get("/api/attempts/{id}/events")
@needs("read", "attempt")
async def attempt_events(request: web.Request) -> web.StreamResponse:
    """`attempt` (the attempt, when it changes), `snapshot` ({"tasks": every task}, first),
    `tasks` ({"tasks": the tasks that changed}), `end` (the attempt is done: nothing more comes)."""
    app = request.app
    follower = live.AttemptFollower(app[STORE], int_id(request, "id"))
    loop = asyncio.get_running_loop()
    with app[HUB].watch(follower.attempt_id) as watcher:
        # a 404 before the stream opens; the snapshot is encoded off the loop, or kept (docs/performance.md)
        opened, snapshot, done = await off_loop(app, follower.first, app[SNAPSHOTS])
        response = await _open(request)
        try:
            await _send(response, "attempt", opened)
            await _write(response, "snapshot", snapshot)
            while not done and not watcher.closed:
                if not await watcher.wait(HEARTBEAT):
                    await response.write(b": keep-alive\n\n")
                    continue
                if watcher.closed:
                    break
                began = loop.time()
                attempt, tasks, done = await off_loop(app, follower.read)
                if attempt is not None:
                    await _send(response, "attempt", attempt)
                if tasks:
                    await _send(response, "tasks", {"tasks": tasks})
                await asyncio.sleep(_pause(loop.time() - began))
            if done:
                await _send(response, "end", {})
        except ConnectionResetError:  # the page went away
            pass
    return response


@routes.get("/api/events")
@needs("read", NOWHERE)
async def attempts_events(request: web.Request) -> web.StreamResponse:
    """`ready` (first), then `attempts` ({"attempts": those that started, were killed or ended})."""
    app = request.app
    follower = live.AttemptsFollower(app[STORE])
    loop = asyncio.get_running_loop()
    with app[HUB].watch(None) as watcher:
        await off_loop(app, follower.read)
        response = await _open(request)
        try:
            await _send(response, "ready", {})
            while not watcher.closed:
                if not await watcher.wait(HEARTBEAT):
                    await response.write(b": keep-alive\n\n")
                    continue
                if watcher.closed:
                    break
                began = loop.time()
                changed = visible(request, await off_loop(app, follower.read))
                if changed:
                    await _send(response, "attempts", {"attempts": changed})
                await asyncio.sleep(_pause(loop.time() - began))
        except ConnectionResetError:
            pass
    return response


@routes.get("/api/logs/{id}/files/{name}/events")
@needs("read", "attempt")
async def log_events(request: web.Request) -> web.StreamResponse:
    """`text` ({"text", "offset": the byte after it}) from `offset` on, as the file grows; `end`
    once the attempt is done and all of the file was sent."""
    app = request.app
    attempt_id = int_id(request, "id")
    name = request.match_info["name"]
    offset = query_int(request, "offset", 0, minimum=0) or 0
    store = app[STORE]
    path = app[LOGS].path(attempt_id, name)
    if path is None:
        raise NotFound(f"log file {name} of attempt {attempt_id} not found")
    with app[HUB].watch(attempt_id) as watcher:
        done = (await off_loop(app, attempts.get_attempt, store, attempt_id))["done"]
        response = await _open(request)
        loop = asyncio.get_running_loop()
        written = loop.time()
        try:
            while not watcher.closed:
                text, offset = await off_loop(app, live.read_log, path, offset)
                if text:
                    await _send(response, "text", {"text": text, "offset": offset})
                    written = loop.time()
                    continue
                if done:
                    await _send(response, "end", {"offset": offset})
                    break
                if loop.time() - written > HEARTBEAT:
                    await response.write(b": keep-alive\n\n")
                    written = loop.time()
                if await watcher.wait(LOG_IDLE):  # the attempt changed: has it ended?
                    done = (await off_loop(app, attempts.get_attempt, store, attempt_id))["done"]
        except ConnectionResetError:
            pass
    return response
