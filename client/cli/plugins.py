"""`digpy plugins`: every operator, with the package and version providing it, and the installed
plugins that failed to load, with their errors (then the exit code is 1)."""

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
    rows: list[dict[str, Any]] = [
        {"operator": f"{name}>", "package": info.distribution, "version": info.version, "plugin": info.plugin}
        for name, info in sorted(registry.operators.items())
    ]
    status = 1 if registry.broken else 0
    if args.json:
        rows += [{"operator": None, "package": b.distribution, "version": b.version,
                  "plugin": f"{b.distribution}:{b.name}", "error": b.problem} for b in registry.broken]
        print(json.dumps(rows, indent=2))
        return status
    widths = [max(len(r[k]) for r in [*rows, {"operator": "OPERATOR", "package": "PACKAGE", "version": "VERSION",
                                                "plugin": "MODULE"}]) for k in ("operator", "package", "version")]
    print(f"{'OPERATOR':<{widths[0]}}  {'PACKAGE':<{widths[1]}}  {'VERSION':<{widths[2]}}  MODULE")
    for r in rows:
        print(f"{r['operator']:<{widths[0]}}  {r['package']:<{widths[1]}}  {r['version']:<{widths[2]}}  {r['plugin']}")
    if registry.broken:
        print("\nPlugins that failed to load (their operators are unavailable):")
        for b in registry.broken:
            print(f"  {b.distribution} {b.version} ({b.distribution}:{b.name}): {b.problem}")
    return status
