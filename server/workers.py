"""Executor processes: a node that runs its attempts in child processes instead of its own.

One Python process runs Python on one core at a time. A node whose API and executor share a
process answers requests only between the executor's steps; with `--executor-processes N`, the
server runs N children (`digpy server --executor-only`), each an executor with its own event loop
and connection pool, and the API process only serves. Children work with each other and with other
nodes through the database's leases, exactly as separate nodes do; the server wakes them when an
attempt is started or killed (a byte on their stdin), and they run at a lower CPU priority
(`--executor-nice`) so that the API answers first when the machine is busy. A child dies with its
server (Linux: the parent-death signal), and the server stops its children when it stops (they hand
their attempts back, as a stopping node does). docs/performance.md has the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from digpy.core.plugin_manager import Registry
from digpy.core.store.server import ServerStore
from digpy.server.keys import ServerSettings
from digpy.server.notifiers import NOTIFY_ENV

log = logging.getLogger("digpy.server.workers")
STOP_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1


def _child_setup(nice: int) -> None:  # pragma: no cover - runs in the child between fork and exec
    if nice:
        os.nice(nice)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ExecutorProcesses:
    """The executor children of a server."""

    def __init__(self, argv: Sequence[str], count: int, nice: int) -> None:
        self.argv = [sys.executable, "-m", "digpy", "server", "--executor-only", *argv]
        self.count = count
        self.nice = nice
        self.children: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for _ in range(self.count):
            child = subprocess.Popen(self.argv, stdin=subprocess.PIPE, preexec_fn=lambda: _child_setup(self.nice))
            if child.stdin is not None:
                os.set_blocking(child.stdin.fileno(), False)
            self.children.append(child)
        log.info("%d executor process(es) started: %s", self.count, ", ".join(str(c.pid) for c in self.children))

    def wake(self) -> None:
        """Tell the children that an attempt was started or killed (a lost byte only delays them)."""
        for child in self.children:
            with contextlib.suppress(OSError, ValueError):
                if child.stdin is not None:
                    child.stdin.write(b"\n")
                    child.stdin.flush()

    async def stop(self) -> None:
        """Stop the children; each hands its attempts back, as a stopping node does."""
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                await asyncio.to_thread(child.wait, STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.error("executor process %d did not stop in %.0f s; killed", child.pid, STOP_SECONDS)
                child.kill()
                await asyncio.to_thread(child.wait)
        self.children.clear()


async def serve_wakeups(wake: Callable[[], None]) -> None:
    """In an executor child: call `wake()` for every line on stdin; return at its end (the server
    is gone or stopping)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.readline():
        wake()


def run_executor_node(settings: ServerSettings, store: ServerStore, registry: Registry) -> None:
    """`digpy server --executor-only`: run attempts until SIGTERM (or the end of stdin, when the
    server that started this process is gone); no HTTP."""
    from digpy.core.secrets import SecretBox
    from digpy.server.executor import Executor, ExecutorSettings
    from digpy.server.logs import LogStore
    from digpy.server.notifiers import start_notifier

    box = (SecretBox.from_base64(settings.secret_key) if settings.secret_key
           else SecretBox.from_key_file(settings.data_dir / "secret.key"))
    db = ThreadPoolExecutor(settings.db_threads, thread_name_prefix="digpy-db")
    executor = Executor(store, registry, LogStore(settings.task_log_dir), box,
                        ExecutorSettings(data_dir=settings.data_dir, max_tasks=settings.max_task_threads,
                                         queues=settings.queues), db)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        waiting = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(executor.run())}
        if stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode):  # started by a server: its wake-ups
            waiting.add(asyncio.ensure_future(serve_wakeups(executor.wake)))
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        await executor.stop()
        for job in waiting:
            job.cancel()

    notifier = start_notifier(settings.notify, registry)
    try:
        asyncio.run(main())
    finally:
        db.shutdown(wait=True)
        if notifier is not None:
            notifier.close()


def child_argv(settings: ServerSettings) -> list[str]:
    """The options an executor process needs to be this server's executor (the secret key and the
    notifiers, if given, go through the environment: a command line is visible to every user)."""
    if settings.secret_key:
        os.environ["DIGPY_SECRET_ENCRYPTION_KEY"] = settings.secret_key
    argv = ["--database", settings.database_url, "--data-dir", str(settings.data_dir),
            "--task-log", str(settings.task_log_dir), "--max-task-threads", str(settings.max_task_threads),
            *(f"--queue={name}={limit}" for name, limit in settings.queues.items())]
    if settings.notify.enabled:  # a webhook's URL or headers may hold a token, too
        os.environ[NOTIFY_ENV] = settings.notify.to_json()
    return argv
