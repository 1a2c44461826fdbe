"""`digpy scheduler`: run the schedules of a project directory, with no server to push to.

A server on this machine whose database lives in the project's `.digpy/` directory, plus a
watcher that pushes the directory as a new revision whenever its files change (Digdag's `digdag
scheduler`): the schedules follow the files, and everything a server offers (the API, `digpy log`,
`digpy schedules`, backfill) works on it. A project that does not load is reported in one line and
the previous revision keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from digpy.client.archive import pack
from digpy.core.errors import DigpyError
from digpy.server.keys import REGISTRY, SETTINGS, STORE, off_loop, wake_scheduler
from digpy.server.services import projects

log = logging.getLogger("digpy.scheduler")
WATCH_SECONDS = 2.0


class ProjectWatcher:
    """Pushes a project directory to its local server when its files change."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.pushed: str | None = None  # the digest of the files last pushed (or refused)

    def digest(self) -> tuple[str, bytes]:
        archive, names = pack(self.directory)
        content = hashlib.sha256()
        for name in names:
            content.update(name.encode() + b"\0" + (self.directory / name).read_bytes() + b"\0")
        return content.hexdigest(), archive

    def scan(self, app: web.Application) -> bool:
        """Push the project if its files changed since the last push; True if it did."""
        digest, archive = self.digest()
        if digest == self.pushed:
            return False
        self.pushed = digest
        try:
            projects.push(app[STORE], app[REGISTRY], name=self.name, revision=f"local-{digest[:16]}",
                          archive=archive, max_bytes=app[SETTINGS].max_archive_bytes)
        except DigpyError as e:
            log.error("%s was not loaded (the previous revision keeps running): %s", self.directory, e)
            return False
        log.info("%s pushed as revision local-%s", self.directory, digest[:16])
        return True


def watch(directory: Path, name: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context that keeps the server's project in step with `directory`."""
    watcher = ProjectWatcher(directory, name)

    async def context(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    if await off_loop(app, watcher.scan, app):
                        wake_scheduler(app)
                except Exception:
                    log.exception("watching %s failed; trying again", directory)
                await asyncio.sleep(WATCH_SECONDS)

        task = asyncio.ensure_future(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return context
