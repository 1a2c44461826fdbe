"""The server's aiohttp application: errors as JSON, the API's routes, and the parts it runs."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from digpy.client import model
from digpy.core.errors import ConfigError, DigpyError
from digpy.core.plugin_manager import Registry
from digpy.core.secrets import SecretBox
from digpy.core.store.server import ServerStore
from digpy.server.archive import remove_left_over_directories
from digpy.server.changefeed import ChangeFeed
from digpy.server.events import EventHub
from digpy.server.executor import Executor, ExecutorSettings
from digpy.server.keys import (
    BOX,
    DB,
    EXECUTOR,
    HUB,
    LOGS,
    REGISTRY,
    SCHEDULER,
    SETTINGS,
    SNAPSHOTS,
    STORE,
    WORKERS,
    ServerSettings,
    wake_executor,
)
from digpy.server.logs import LogStore
from digpy.server.notifiers import start_notifier
from digpy.server.scheduler import Scheduler
from digpy.server.services import live
from digpy.server.workers import ExecutorProcesses, child_argv

log = logging.getLogger("digpy.server")


def error_body(message: str, status: int) -> web.Response:
    return web.json_response(model.Error(message=message, status=status).to_json(), status=status)


_OUT_OF_RANGE = "22003"  # SQLSTATE numeric_value_out_of_range


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error is JSON `{"message", "status"}`; unexpected ones are logged with a traceback."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except web.HTTPException as e:
        if e.status < 400:
            raise
        response = error_body(e.reason if e.text is None or e.text.startswith(f"{e.status}:") else e.text, e.status)
        if e.status == 405:  # the methods the path takes (RFC 9110)
            response.headers["Allow"] = ",".join(sorted(await _allowed(request)))
        return response
    except DigpyError as e:
        status = getattr(e, "status", 400 if isinstance(e, ConfigError) else 500)
        return error_body(str(e), status)
    except Exception as e:
        if getattr(getattr(e, "orig", None), "sqlstate", None) == _OUT_OF_RANGE:  # PostgreSQL's integer ids
            return error_body("not found: a number in the request is larger than any id the database holds", 404)
        if "NUL (0x00)" in str(e):  # PostgreSQL's text cannot hold it (SQLite's can)
            return error_body("text in the request may not contain the NUL character (\\u0000)", 400)
        log.exception("request %s %s failed", request.method, request.path)
        return error_body("internal server error (see the server log)", 500)


async def _allowed(request: web.Request) -> set[str]:
    """The methods of the routes that match the request's path, but for the web UI's catch-all
    (which answers GET of any path with 404)."""
    from digpy.server.ui import CATCH_ALL

    methods: set[str] = set()
    for resource in request.app.router.resources():
        if resource.name != CATCH_ALL:
            methods |= (await resource.resolve(request))[1]
    return methods


def api_modules() -> tuple[Any, ...]:
    """The modules whose routes the server serves (imported here: they import this module's errors)."""
    from digpy.server.api import attempts, events, logs, meta, projects, schedules, session

    return meta, session, projects, attempts, logs, events, schedules


def create_app(settings: ServerSettings, store: ServerStore, registry: Registry) -> web.Application:
    """The application; the executor starts and stops with it (unless switched off)."""
    from digpy.server import security, ui

    app = web.Application(middlewares=[errors, security.security], client_max_size=settings.max_archive_bytes + 1024 * 1024)
    app[STORE] = store
    app[REGISTRY] = registry
    app[SETTINGS] = settings
    app[LOGS] = LogStore(settings.task_log_dir)
    app[BOX] = (SecretBox.from_base64(settings.secret_key) if settings.secret_key
                else SecretBox.from_key_file(settings.data_dir / "secret.key"))
    app[DB] = ThreadPoolExecutor(settings.db_threads, thread_name_prefix="digpy-db")
    app[HUB] = EventHub()
    app[SNAPSHOTS] = live.SnapshotCache()
    security.install(app, bind=settings.bind, allow_hosts=settings.allow_hosts, auth_required=settings.auth_required)
    for module in api_modules():
        app.router.add_routes(module.routes)
    ui.add_routes(app)  # last: its catch-all answers paths that are no route
    if settings.executor and settings.executor_processes > 0:
        app[WORKERS] = ExecutorProcesses(child_argv(settings), settings.executor_processes, settings.executor_nice)
    elif settings.executor:
        app[EXECUTOR] = Executor(store, registry, app[LOGS], app[BOX], ExecutorSettings(
            data_dir=settings.data_dir, max_tasks=settings.max_task_threads, queues=settings.queues), app[DB])
        app[EXECUTOR].finished.append(functools.partial(live.warm, store, app[SNAPSHOTS]))

    async def executor_context(app: web.Application) -> AsyncIterator[None]:
        if WORKERS in app:
            app[WORKERS].start()
            yield
            await app[WORKERS].stop()
        elif EXECUTOR in app:
            executor = app[EXECUTOR]
            notifier = start_notifier(settings.notify, registry)  # attempts end here: tell of them
            task = asyncio.ensure_future(executor.run())
            yield
            await executor.stop()
            task.cancel()
            if notifier is not None:
                await asyncio.to_thread(notifier.close)
        else:
            yield
        app[DB].shutdown(wait=True)

    async def events_context(app: web.Application) -> AsyncIterator[None]:
        """Changes reach the hub: this process's commits through the store's listeners; on PostgreSQL,
        or when attempts run in other processes, through the change feed."""
        hub = app[HUB]
        hub.bind(asyncio.get_running_loop())
        store.listeners.append(hub.publish_threadsafe)
        feed = ChangeFeed(store, hub) if store.dialect == "postgresql" or EXECUTOR not in app else None
        if feed is not None:
            feed.start()
        yield
        store.listeners.remove(hub.publish_threadsafe)
        if feed is not None:
            await asyncio.to_thread(feed.stop)

    async def end_streams(app: web.Application) -> None:
        app[HUB].close()

    removed = remove_left_over_directories()
    if removed:
        log.info("removed %d temporary push directories left by a server that stopped mid-push", len(removed))
    app.cleanup_ctx.append(events_context)
    app.cleanup_ctx.append(executor_context)
    if settings.scheduler:
        app.cleanup_ctx.append(scheduler_context)
    app.cleanup_ctx.append(_retention_context)  # the server's retention options, or workflows' own `retention:`
    app.on_shutdown.append(end_streams)
    return app


async def scheduler_context(app: web.Application) -> AsyncIterator[None]:
    """The scheduler runs beside the API, its steps in the database threads."""
    loop = asyncio.get_running_loop()
    def started() -> None:  # called in a database thread
        loop.call_soon_threadsafe(wake_executor, app)

    scheduler = Scheduler(app[STORE], started=started)
    app[SCHEDULER] = scheduler
    task = asyncio.ensure_future(scheduler.run(lambda work: loop.run_in_executor(app[DB], work)))
    yield
    scheduler.stop()
    await asyncio.gather(task, return_exceptions=True)


async def _retention_context(app: web.Application) -> AsyncIterator[None]:
    from digpy.server.retention import retention_loop

    task = asyncio.ensure_future(retention_loop(app))
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


__all__ = ["ServerSettings", "api_modules", "create_app", "error_body"]
