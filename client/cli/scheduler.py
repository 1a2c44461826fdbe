"""`digpy scheduler [--project DIR]`: run a project directory's schedules on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="run a project directory's schedules here (no server needed)",
        description="Runs the schedules of a project directory: a server on this machine, its database in the "
                    "project's .digpy/ directory, that loads the directory again whenever its files change. "
                    "`digpy schedules`, `digpy log` and the other server commands work against it.")
    parser.add_argument("--project", default=".", metavar="DIR", help="the project directory (default: here)")
    parser.add_argument("-b", "--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-n", "--port", type=int, default=65432, help="port (default 65432)")
    parser.add_argument("--max-task-threads", type=int, default=32, metavar="N", help="tasks run at once per attempt")
    return parser


def run(args: argparse.Namespace) -> int:
    import logging

    from aiohttp import web

    from digpy.client.cli.output import configure_logging
    from digpy.client.cli.server import open_database
    from digpy.core.errors import ConfigError
    from digpy.core.plugin_manager import load_registry
    from digpy.server.app import create_app
    from digpy.server.keys import ServerSettings
    from digpy.server.local_scheduler import watch

    directory = Path(args.project).resolve()
    if not directory.is_dir():
        raise ConfigError(f"{args.project} is not a project directory", hint="--project takes a directory")
    data_dir = directory / ".digpy" / "scheduler"
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = ServerSettings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'digpy.db'}",
                              task_log_dir=data_dir / "logs", max_task_threads=args.max_task_threads)
    configure_logging("info")
    store = open_database(settings.database_url, create_if_empty=True)
    app = create_app(settings, store, load_registry())
    app.cleanup_ctx.append(watch(directory, directory.name))
    logging.getLogger("digpy.scheduler").info("digpy scheduler for %s on http://%s:%d (state in %s)", directory,
                                              args.bind, args.port, data_dir)
    try:
        web.run_app(app, host=args.bind, port=args.port, print=None, handle_signals=True, access_log=None)
    finally:
        store.close()
    return 0
