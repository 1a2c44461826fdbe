"""`-p KEY=VALUE` and `-P FILE` options, shared by the commands that take params."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_param_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="a session param (a string; dotted keys nest: -p db.host=x); repeatable")
    parser.add_argument("-P", "--params-file", action="append", default=[], metavar="FILE",
                        help="a YAML file of session params (typed); -p wins over -P")


def collect_params(args: argparse.Namespace) -> dict[str, Any]:
    from digpy.core.errors import ConfigError
    from digpy.core.workflow.params import deep_merge, set_dotted

    params: dict[str, Any] = {}
    for file in args.params_file:
        from digpy.core.language.dig.loader import load_file
        from digpy.core.workflow.located import to_plain

        path = Path(file)
        if not path.is_file():
            raise ConfigError(f"params file {file} not found")
        params = deep_merge(params, to_plain(load_file(path)))
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"-p expects KEY=VALUE, got '{item}'")
        set_dotted(params, key, value)
    return params
