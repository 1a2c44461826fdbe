"""`digpy prune`: remove old finished sessions, their attempts, tasks and task logs, from a server's
database and task-log directory directly (like `digpy migrate`; the server need not run)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    from digpy.client.cli.server import add_retention_options, default_data_dir

    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="remove old sessions and their logs from a server's database",
        description="Remove finished sessions older than the retention options (or a workflow's own retention:) "
                    "say, with their attempts, tasks and task logs, from a server's database and task-log directory (the server may be "
                    "running). Reads the server's config file (-c) for the database, directories and retention.")
    parser.add_argument("-c", "--config", metavar="FILE", help="the server's YAML file of options")
    parser.add_argument("-o", "--database", metavar="URL", help="SQLAlchemy URL (default: SQLite in the data directory)")
    parser.add_argument("--data-dir", metavar="DIR", help=f"the server's data directory (default {default_data_dir()})")
    parser.add_argument("-O", "--task-log", metavar="DIR", help="its task-log directory (default DATA_DIR/logs)")
    add_retention_options(parser)
    parser.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    parser.add_argument("--vacuum", action="store_true",
                        help="then give the space back (SQLite: VACUUM shrinks the file; PostgreSQL: VACUUM ANALYZE)")
    return parser


def run(args: argparse.Namespace) -> int:
    from digpy.client.cli.server import open_database, settings_from
    from digpy.core.errors import ConfigError
    from digpy.server.logs import LogStore
    from digpy.server.services.retention import has_policies, prune, vacuum

    settings = settings_from(_server_args(args))[0]
    file = sqlite_file(settings.database_url)
    if file is not None and not file.is_file():
        raise ConfigError(f"no database at {file}", hint="give the server's --database URL, --data-dir or -c file")
    store = open_database(settings.database_url, create_if_empty=False)
    try:
        if not has_policies(store, settings.retention):
            raise ConfigError("nothing to prune by", hint="give --retention-age DURATION and/or --retention-sessions N "
                                                          "(or retention_age / retention_sessions in the -c file); "
                                                          "no workflow has a retention: of its own")
        started = time.monotonic()
        pruned = prune(store, LogStore(settings.task_log_dir), settings.retention, now=time.time(),
                       dry_run=args.dry_run)
        print(f"{'Would remove' if args.dry_run else 'Removed'} {pruned.summary()}"
              f"{'' if args.dry_run else f' in {time.monotonic() - started:.1f} s'}.")
        if args.vacuum and not args.dry_run:
            before = _sqlite_size(file) if file else 0
            vacuum(store)
            if file:
                print(f"VACUUM: {file} (with its write-ahead log) went from {before} to {_sqlite_size(file)} bytes.")
            else:
                print("VACUUM ANALYZE done.")
    finally:
        store.close()
    return 0


def _server_args(args: argparse.Namespace) -> argparse.Namespace:
    """The arguments as `digpy server` would have them (its -c file may hold any server option)."""
    own = {"dry_run", "vacuum"}
    return argparse.Namespace(**{k: v for k, v in vars(args).items() if k not in own})


def _sqlite_size(file: Path) -> int:
    wal = file.with_name(file.name + "-wal")
    return file.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return Path(parsed.database) if parsed.get_backend_name() == "sqlite" and parsed.database else None
