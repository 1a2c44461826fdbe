"""`digpy migrate run|check --database URL`: bring a server database to this digpy's schema."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help="migrate a server database")
    parser.add_argument("action", choices=("run", "check"), help="run: apply migrations; check: report only")
    parser.add_argument("-o", "--database", required=True, metavar="URL", help="SQLAlchemy database URL")
    return parser


def run(args: argparse.Namespace) -> int:
    from digpy.client.cli.server import read_schema
    from digpy.core.store import SCHEMA_REVISION, migrate
    from digpy.core.store.server import ServerStore
    from digpy.core.store.url import safe_url

    store = ServerStore.open(args.database)
    current, _empty = read_schema(store, args.database)
    shown = safe_url(args.database)
    try:
        if args.action == "check":
            if current == SCHEMA_REVISION:
                print(f"{shown} is at the current schema ({SCHEMA_REVISION}).")
                return 0
            print(f"{shown} is at {current or '(no schema)'}; `digpy migrate run` brings it to {SCHEMA_REVISION}.")
            return 1
        migrate.upgrade(store.engine)
        print(f"{shown}: migrated from {current or '(no schema)'} to {SCHEMA_REVISION}.", file=sys.stderr)
        return 0
    finally:
        store.engine.dispose()
