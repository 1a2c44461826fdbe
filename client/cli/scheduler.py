"""`digpy scheduler [--project DIR]`: run a project directory's schedules on this machine.

A server on this machine whose database lives in the project's `.digpy/` directory, plus a
watcher that pushes the directory as a new revision whenever its files change (Digdag's `digdag
scheduler`): the schedules follow the files, and everything a server offers (the API, `digpy log`,
`digpy schedules`, backfill) works on it. A project that does not load is reported in one line and
the previous revision keeps running. (The command composes the server and the client's packing,
which the server itself may not import.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("digpy.scheduler")


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="run a project directory's schedules here (no server needed)",
        description="Runs the schedules of a project directory: a server on this machine, its database in the "
                    "project's .digpy/ directory, that loads the directory again whenever its files change. "
                    "`digpy schedules`, `digpy log` and the other server commands work against it.")
    parser.add_argument("--project", default=".", metavar="DIR", help="the project directory (default: here)")
    parser.add_argument("-b", "--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-n", "--port", type=int, default=65432, help="port (default 65432)")
    parser.add_argument("--insecure-no-auth", action="store_true",
                        help="listen on a non-loopback address although no API token exists (see `digpy server`)")
    parser.add_argument("--max-task-threads", type=int, default=32, metavar="N", help="tasks run at once per attempt")
    return parser


def run(args: argparse.Namespace) -> int:
    import logging

    from aiohttp import web

    from digpy.client.cli.output import configure_logging
    from digpy.client.cli.server import check_exposure, open_database
    from digpy.core.errors import ConfigError
    from digpy.core.plugin_manager import load_registry
    from digpy.server.app import create_app
    from digpy.server.keys import ServerSettings
    from digpy.server.security import is_loopback

    directory = Path(args.project).resolve()
    if not directory.is_dir():
        raise ConfigError(f"{args.project} is not a project directory", hint="--project takes a directory")
    data_dir = directory / ".digpy" / "scheduler"
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = ServerSettings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'digpy.db'}",
                              task_log_dir=data_dir / "logs", max_task_threads=args.max_task_threads,
                              bind=args.bind,
                              auth_required=not is_loopback(args.bind) and not args.insecure_no_auth)
    configure_logging("info")
    store = open_database(settings.database_url, create_if_empty=True)
    try:
        check_exposure(settings, store)  # beyond loopback: tokens (`digpy token create --data-dir DATA_DIR`)
    except Exception:
        store.close()
        raise
    app = create_app(settings, store, load_registry())
    app.cleanup_ctx.append(watch(directory, directory.name))
    logging.getLogger("digpy.scheduler").info("digpy scheduler for %s on http://%s:%d (state in %s)", directory,
                                              args.bind, args.port, data_dir)
    try:
        web.run_app(app, host=args.bind, port=args.port, print=None, handle_signals=True, access_log=None)
    finally:
        store.close()
    return 0


WATCH_SECONDS = 2.0


class ProjectWatcher:
    """Pushes a project directory to its local server when its files change."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self.pushed: str | None = None  # the digest of the files last pushed (or refused)

    def digest(self) -> tuple[str, bytes]:
        from digpy.client.archive import pack

        archive, names = pack(self.directory)
        content = hashlib.sha256()
        for name in names:
            content.update(name.encode() + b"\0" + (self.directory / name).read_bytes() + b"\0")
        return content.hexdigest(), archive

    def scan(self, app: Any) -> bool:
        """Push the project if its files changed since the last push; True if it did."""
        from digpy.core.errors import DigpyError
        from digpy.server.keys import REGISTRY, SETTINGS, STORE
        from digpy.server.services import projects

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


def watch(directory: Path, name: str) -> Callable[[Any], AsyncIterator[None]]:
    """An aiohttp cleanup context that keeps the server's project in step with `directory`."""
    from digpy.server.keys import off_loop, wake_scheduler

    watcher = ProjectWatcher(directory, name)

    async def context(app: Any) -> AsyncIterator[None]:
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
