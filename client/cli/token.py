"""`digpy token create|list|revoke`: API tokens and their roles, in a server's database directly (like
`digpy prune`; the server need not run, and a running one sees a change within seconds)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    from digpy.client.cli.server import default_data_dir

    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="create, list and revoke the server's API tokens",
        description="API tokens and their roles (read < run < write < admin, per project or '*' for every "
                    "project; --admin: the server admin). Works on the server's database directly: give the "
                    "server's -c file, --database or --data-dir. See docs/security.md.")
    actions = parser.add_subparsers(dest="token_command", metavar="ACTION", required=True,
                                    parser_class=type(parser))
    create = actions.add_parser("create", help="create a token and print it (only this once)")
    create.add_argument("name", help="what the token is for (a person, a CI job); revoke uses it")
    create.add_argument("--admin", action="store_true", help="a server admin: every role on every project")
    create.add_argument("--project", action="append", default=[], metavar="NAME",
                        help="a project the token gets --role on ('*': every project); repeatable, in pairs with --role")
    create.add_argument("--role", action="append", default=[], metavar="ROLE",
                        help="read, run, write or admin: the role on the --project before it")
    listing = actions.add_parser("list", help="the live tokens, their roles and when they were last used")
    listing.add_argument("--all", action="store_true", help="revoked ones too")
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    revoke = actions.add_parser("revoke", help="revoke a token: it stops working within seconds")
    revoke.add_argument("name")
    for action in (create, listing, revoke):
        action.add_argument("-c", "--config", metavar="FILE", help="the server's YAML file of options")
        action.add_argument("-o", "--database", metavar="URL", help="SQLAlchemy URL (default: SQLite in the data directory)")
        action.add_argument("--data-dir", metavar="DIR", help=f"the server's data directory (default {default_data_dir()})")
    return parser


def run(args: argparse.Namespace) -> int:
    from digpy.client.cli.prune import sqlite_file
    from digpy.client.cli.server import open_database, settings_from
    from digpy.core.errors import ConfigError
    from digpy.core.store import tokens

    command = args.token_command
    settings = settings_from(argparse.Namespace(config=args.config, database=args.database, data_dir=args.data_dir))[0]
    grants = _grants(args) if command == "create" else {}
    file = sqlite_file(settings.database_url)
    if command != "create" and file is not None and not file.is_file():
        raise ConfigError(f"no database at {file}", hint="give the server's --database URL, --data-dir or -c file")
    store = open_database(settings.database_url, create_if_empty=command == "create")
    try:
        with store.begin() as conn:
            if command == "create":
                token = tokens.create(conn, args.name, server_admin=args.admin, grants=grants, now=time.time())
            elif command == "revoke":
                tokens.revoke(conn, args.name, time.time())
            else:
                rows = tokens.listing(conn, include_revoked=args.all)
    finally:
        store.close()
    if command == "create":
        print(token)
        print(f"Token '{args.name}' created ({_roles(args.admin, grants)}). This is the only time it is shown: "
              f"give it to its user (DIGPY_TOKEN, or `token = ...` in the client config file).", file=sys.stderr)
    elif command == "revoke":
        print(f"Token '{args.name}' revoked (a running server refuses it within seconds).")
    else:
        _print(rows, args.json)
    return 0


def _grants(args: argparse.Namespace) -> dict[str, str]:
    from digpy.core.errors import ConfigError
    from digpy.core.store.tokens import check_role

    if len(args.project) != len(args.role):
        raise ConfigError("give --project and --role in pairs (--project NAME --role ROLE)",
                          hint="--project '*' gives the role on every project")
    return {project: check_role(role) for project, role in zip(args.project, args.role, strict=True)}


def _roles(admin: bool, grants: dict[str, str]) -> str:
    parts = ["server admin"] if admin else []
    parts += [f"{role} on {'every project' if project == '*' else project}" for project, role in grants.items()]
    return ", ".join(parts)


def _print(rows: list[dict[str, Any]], as_json: bool) -> None:
    from digpy.client.cli.remote import table
    from digpy.server.rest import instant

    if as_json:
        print(json.dumps([{"name": r["name"], "serverAdmin": bool(r["server_admin"]), "grants": r["grants"],
                           "createdAt": instant(r["created_at"]), "lastUsedAt": instant(r["last_used_at"]),
                           "revokedAt": instant(r["revoked_at"])} for r in rows], indent=2))
        return
    table([(r["name"], _roles(bool(r["server_admin"]), r["grants"]), instant(r["created_at"]),
            instant(r["last_used_at"]) or "never", instant(r["revoked_at"]) or "")
           for r in rows], ("NAME", "ROLES", "CREATED", "LAST USED", "REVOKED"))
