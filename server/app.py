"""The server's aiohttp application: shared state, errors as JSON, and the parts it runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from digpy.core.errors import ConfigError, DigpyError
from digpy.core.plugin_manager import Registry
from digpy.core.store.sql import Store
from digpy.server.executor import Executor, ExecutorSettings
from digpy.server.logs import LogStore
from digpy.server.secrets import SecretBox

log = logging.getLogger("digpy.server")


@dataclass
class ServerSettings:
    data_dir: Path
    database_url: str
    task_log_dir: Path
    secret_key: str | None = None  # base64 AES key; default: a key file in the data directory
    max_task_threads: int = 32
    max_archive_bytes: int = 32 * 1024 * 1024
    executor: bool = True
    scheduler: bool = True
    headers: dict[str, str] = field(default_factory=dict)


STORE = web.AppKey("store", Store)
REGISTRY = web.AppKey("registry", Registry)
LOGS = web.AppKey("logs", LogStore)
BOX = web.AppKey("box", SecretBox)
SETTINGS = web.AppKey("settings", ServerSettings)
EXECUTOR = web.AppKey("executor", Executor)


def error_body(message: str, status: int) -> web.Response:
    return web.json_response({"message": message, "status": status}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every error is JSON `{"message", "status"}`; unexpected ones are logged with a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return error_body(e.reason if e.text is None or e.text.startswith(f"{e.status}:") else e.text, e.status)
    except DigpyError as e:
        status = getattr(e, "status", 400 if isinstance(e, ConfigError) else 500)
        return error_body(str(e), status)
    except Exception:
        log.exception("request %s %s failed", request.method, request.path)
        return error_body("internal server error (see the server log)", 500)


def wake_executor(app: web.Application) -> None:
    executor = app.get(EXECUTOR)
    if executor is not None:
        executor.wake()


def create_app(settings: ServerSettings, store: Store, registry: Registry) -> web.Application:
    """The application; the executor starts and stops with it (unless switched off)."""
    from digpy.server.api import attempts, logs, meta, projects

    app = web.Application(middlewares=[errors], client_max_size=settings.max_archive_bytes + 1024 * 1024)
    app[STORE] = store
    app[REGISTRY] = registry
    app[SETTINGS] = settings
    app[LOGS] = LogStore(settings.task_log_dir)
    app[BOX] = (SecretBox.from_base64(settings.secret_key) if settings.secret_key
                else SecretBox.from_key_file(settings.data_dir / "secret.key"))
    for module in (meta, projects, attempts, logs):
        app.router.add_routes(module.routes)
    if settings.executor:
        app[EXECUTOR] = Executor(store, registry, app[LOGS], app[BOX], ExecutorSettings(
            data_dir=settings.data_dir, max_tasks=settings.max_task_threads))

    async def executor_context(app: web.Application) -> AsyncIterator[None]:
        if not settings.executor:
            yield
            return
        executor = app[EXECUTOR]
        task = asyncio.ensure_future(executor.run())
        yield
        await executor.stop()
        task.cancel()

    app.cleanup_ctx.append(executor_context)
    return app
