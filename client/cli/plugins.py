"""`digpy plugins`: every operator and secret provider, with the package and version providing it."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help="list operators and the packages providing them")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def run(args: argparse.Namespace) -> int:
    import json

    from digpy.core.plugin_manager import load_registry

    registry = load_registry()
    rows = [
        {"operator": f"{name}>", "package": info.distribution, "version": info.version, "plugin": info.plugin}
        for name, info in sorted(registry.operators.items())
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    widths = [max(len(r[k]) for r in [*rows, {"operator": "OPERATOR", "package": "PACKAGE", "version": "VERSION",
                                                "plugin": "MODULE"}]) for k in ("operator", "package", "version")]
    print(f"{'OPERATOR':<{widths[0]}}  {'PACKAGE':<{widths[1]}}  {'VERSION':<{widths[2]}}  MODULE")
    for r in rows:
        print(f"{r['operator']:<{widths[0]}}  {r['package']:<{widths[1]}}  {r['version']:<{widths[2]}}  {r['plugin']}")
    return 0
