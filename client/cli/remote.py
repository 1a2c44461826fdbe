"""What the commands that talk to a server share: endpoint options, the client, tables, times."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from digpy.client.http import DEFAULT_ENDPOINT, Client

ENDPOINT_ENV = "DIGPY_ENDPOINT"
TOKEN_ENV = "DIGPY_TOKEN"


def config_file() -> Path:
    explicit = os.environ.get("DIGPY_CONFIG_DIR")
    base = Path(explicit) if explicit else Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "digpy"
    return base / "config"


def add_client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "--endpoint", help=f"server URL (default: ${ENDPOINT_ENV}, the config file's "
                                                 f"client.http.endpoint, or {DEFAULT_ENDPOINT})")
    parser.add_argument("-H", "--header", action="append", default=[], metavar="KEY=VALUE",
                        help="an HTTP header for every request; repeatable")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _config() -> dict[str, str]:
    path = config_file()
    values: dict[str, str] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                values[key.strip()] = value.strip()
    return values


def client(args: argparse.Namespace) -> Client:
    from digpy.core.errors import ConfigError

    config = _config()
    endpoint = args.endpoint or os.environ.get(ENDPOINT_ENV) or config.get("client.http.endpoint") or DEFAULT_ENDPOINT
    if not endpoint.startswith(("http://", "https://")):
        endpoint = "http://" + endpoint
    headers = {k[len("client.http.headers."):]: v for k, v in config.items() if k.startswith("client.http.headers.")}
    for item in args.header:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"-H expects KEY=VALUE, got '{item}'")
        headers[key.strip()] = value.strip()
    token = os.environ.get(TOKEN_ENV) or config.get("token") or config.get("client.http.token")
    if token and not any(k.lower() == "authorization" for k in headers):
        headers["Authorization"] = f"Bearer {token.strip()}"
    return Client(endpoint, headers)


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A table that fits the terminal: the widest column is cut first."""
    cells = [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    budget = shutil.get_terminal_size((160, 24)).columns if sys.stdout.isatty() else 10_000
    while sum(widths) + 2 * (len(widths) - 1) > budget and max(widths) > 8:
        widths[widths.index(max(widths))] -= 1

    def cut(text: str, width: int) -> str:
        return text if len(text) <= width else text[: max(1, width - 1)] + "…"

    print("  ".join(cut(h, w).ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(cut(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def emit_json(value: Any) -> None:
    """`value` as JSON; the REST model's objects (dataclasses), at any depth, by their fields."""
    from dataclasses import asdict, is_dataclass

    def plain(v: Any) -> Any:
        if is_dataclass(v) and not isinstance(v, type):
            return asdict(v)
        raise TypeError(f"{type(v).__name__} is not JSON")

    print(json.dumps(value, indent=2, ensure_ascii=False, default=plain))
