"""The server's shared state: its settings, the application keys every part reads, and running
database work off the event loop.

Every part of the server (API handlers, the executor, the scheduler, the UI) reads what it shares
from here, so that none of them imports another to reach it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from digpy.core.plugin_manager import Registry
from digpy.core.secrets import SecretBox
from digpy.core.store.retention import RetentionPolicy
from digpy.core.store.server import ServerStore
from digpy.server.events import EventHub
from digpy.server.logs import LogStore
from digpy.server.notifiers import NotifySettings

if TYPE_CHECKING:
    from digpy.server.executor import Executor
    from digpy.server.scheduler import Scheduler
    from digpy.server.services.live import SnapshotCache
    from digpy.server.workers import ExecutorProcesses

T = TypeVar("T")


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
    executor_processes: int = 0  # run attempts in this many child processes, not in this one
    executor_nice: int = 10  # the niceness of those processes (the API answers first)
    db_threads: int = 8  # threads that run database work (more only add lock contention: docs/performance.md)
    queues: dict[str, int] = field(default_factory=dict)  # queue name -> its limit of active attempts
    notify: NotifySettings = field(default_factory=NotifySettings)  # where failures and missed SLAs are sent
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)  # how much history to keep (default: all)
    retention_interval: float = 3600.0  # seconds between two prunes
    bind: str = "127.0.0.1"  # the address it listens on (also a Host name it answers)
    allow_hosts: tuple[str, ...] = ()  # Host names it answers besides loopback ones ("*": any)
    auth_required: bool = False  # False: tokens are checked once one exists (docs/security.md)


STORE = web.AppKey("store", ServerStore)
REGISTRY = web.AppKey("registry", Registry)
LOGS = web.AppKey("logs", LogStore)
BOX = web.AppKey("box", SecretBox)
SETTINGS = web.AppKey("settings", ServerSettings)
EXECUTOR: web.AppKey[Executor] = web.AppKey("executor")
DB = web.AppKey("db", ThreadPoolExecutor)
WORKERS: web.AppKey[ExecutorProcesses] = web.AppKey("workers")
SCHEDULER: web.AppKey[Scheduler] = web.AppKey("scheduler")
HUB = web.AppKey("hub", EventHub)
SNAPSHOTS: web.AppKey[SnapshotCache] = web.AppKey("snapshots")  # done attempts' task snapshots (live.py)


async def off_loop(app: web.Application, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking work (SQL, unpacking, compiling) in the server's database threads."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(app[DB], functools.partial(fn, *args, **kwargs))


def wake_executor(app: web.Application) -> None:
    """An attempt was started or killed: tell this node's executor (or executor processes)."""
    executor = app.get(EXECUTOR)
    if executor is not None:
        executor.wake()
    workers = app.get(WORKERS)
    if workers is not None:
        workers.wake()


def wake_scheduler(app: web.Application) -> None:
    """Schedules changed (a push, enable, skip): let the scheduler look again now."""
    scheduler = app.get(SCHEDULER)
    if scheduler is not None:
        scheduler.wake()
