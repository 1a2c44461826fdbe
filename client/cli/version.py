"""`digpy version`: the client's version and the server's."""

from __future__ import annotations

import argparse
from typing import Any

from digpy import __version__
from digpy.client.cli.remote import add_client_options, client


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help="show the client's and the server's versions")
    add_client_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    print(f"Client version: {__version__}")
    print(f"Server version: {client(args).version()}")
    return 0
