"""`digpy secrets --local`: set, delete and list the secrets of local runs (values never printed)."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from digpy.client.cli.remote import add_client_options, client


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="manage secrets (keys are listed, values never shown)",
        description="Without --set or --delete, list the secret keys. --set KEY prompts for the value; "
                    "KEY=@FILE reads it from a file; KEY=- from stdin; @FILE.json sets every key of a JSON object.",
    )
    parser.add_argument("--local", action="store_true", help="the secrets of local runs (digpy run)")
    parser.add_argument("--project", metavar="NAME", help="the secrets of a project on the server")
    parser.add_argument("--set", nargs="+", default=[], metavar="KEY", help="KEY, KEY=@file, KEY=- or @file.json")
    parser.add_argument("--delete", nargs="+", default=[], metavar="KEY", help="delete these keys")
    add_client_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from digpy.core.errors import ConfigError
    from digpy.core.local_secrets import LocalSecretStore
    from digpy.core.secrets import check_key

    if args.local == bool(args.project):
        raise ConfigError("say whose secrets: --local (local runs) or --project NAME (a server project)")
    store: Any = LocalSecretStore() if args.local else _ServerSecrets(args)
    for item in args.set:
        for key, value in _values(item):
            check_key(key)
            store.set(key, value)
            print(f"Secret '{key}' set.", file=sys.stderr)
    for key in args.delete:
        if store.delete(key):
            print(f"Secret '{key}' deleted.", file=sys.stderr)
        else:
            raise ConfigError(f"secret '{key}' does not exist")
    if not args.set and not args.delete:
        for key in store.keys():
            print(key)
    return 0


class _ServerSecrets:
    """The same three operations on a server project's secrets."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.api = client(args)
        self.project_id = self.api.project(args.project).id

    def set(self, key: str, value: str) -> None:
        self.api.set_secret(self.project_id, key, value)

    def delete(self, key: str) -> bool:
        from digpy.client.http import ClientError

        try:
            self.api.delete_secret(self.project_id, key)
        except ClientError as e:
            if e.status == 404:
                return False
            raise
        return True

    def keys(self) -> list[str]:
        return self.api.secret_keys(self.project_id)


def _values(item: str) -> list[tuple[str, str]]:
    from digpy.core.errors import ConfigError

    if item.startswith("@"):
        path = Path(item[1:])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"can't read secrets from {path}: {e}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ConfigError(f"{path} must hold a JSON object of string values")
        return list(data.items())
    key, sep, source = item.partition("=")
    if not sep:
        if not sys.stdin.isatty():
            return [(key, sys.stdin.read().rstrip("\n"))]
        return [(key, getpass.getpass(f"Value of secret '{key}': "))]
    if source == "-":
        return [(key, sys.stdin.read().rstrip("\n"))]
    if source.startswith("@"):
        try:
            return [(key, Path(source[1:]).read_text(encoding="utf-8").rstrip("\n"))]
        except OSError as e:
            raise ConfigError(f"can't read {source[1:]}: {e.strerror}") from None
    raise ConfigError(f"--set {item}: a value is never given on the command line",
                      hint=f"use --set {key} (prompt), {key}=@FILE or {key}=- (stdin)")
