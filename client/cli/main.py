"""The `digpy` command: parses the command line and hands over to one module per subcommand.

Subcommand modules import the engine lazily, so `digpy --version` and `digpy --help` stay fast.
Exit codes: 0 success, 1 a workflow or task failed, 2 bad usage or configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from digpy import __version__

# Subcommand name → module under digpy.client.cli (each has add_parser() and run()).
COMMANDS = {
    "init": "init",
    "check": "check",
    "run": "run",
    "secrets": "secrets",
    "plugins": "plugins",
    "server": "server",
    "scheduler": "scheduler",
    "migrate": "migrate",
    "prune": "prune",
    "token": "token",
    "push": "projects",
    "download": "projects",
    "delete": "projects",
    "projects": "projects",
    "workflows": "projects",
    "start": "attempts",
    "retry": "attempts",
    "kill": "attempts",
    "sessions": "attempts",
    "session": "attempts",
    "attempts": "attempts",
    "attempt": "attempts",
    "tasks": "attempts",
    "log": "log",
    "schedules": "schedules",
    "backfill": "schedules",
    "reschedule": "schedules",
    "enable": "schedules",
    "disable": "schedules",
    "version": "version",
}
# What to do when the server says who may not (docs/security.md).
HINTS = {401: "; set DIGPY_TOKEN (or a line `token = TOKEN` in the client config file) to a token a server admin "
              "created with `digpy token create`",
         403: "; ask a server admin for a token with that role (`digpy token create NAME --project P --role R`)"}
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """One line, as every other error of the command (the usage is one `--help` away)."""
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's module is imported (start-up time)."""
    parser = _Parser(prog="digpy", description="Run .dig workflows locally or on a digpy server.")
    parser.add_argument("--version", action="version", version=f"digpy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module_name in COMMANDS.items():
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"digpy.client.cli.{module_name}")
        command = module.add_parser(sub, name)
        command.set_defaults(module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if sys.stdout is None or sys.stderr is None:  # started with `>&-` or `2>&-`
        if sys.stderr is not None:
            print("error: standard output is closed; redirect it to /dev/null to drop the output", file=sys.stderr)
        return EXIT_USAGE
    first = next((a for a in argv if not a.startswith("-")), None)
    if first == "run" and "--" in argv:  # Dagu's `start dag.yaml -- KEY=VALUE a b`: params after --
        cut = argv.index("--")
        tail, argv = argv[cut + 1:], argv[:cut]
        position = 0
        for word in tail:
            key, eq, _ = word.partition("=")
            if eq and key.replace("_", "a").replace(".", "a").isalnum() and not key[:1].isdigit():
                argv += ["-p", word]
            else:  # a positional param: $1, $2... of a Dagu DAG (the params "1", "2"...)
                position += 1
                argv += ["-p", f"{position}={word}"]
    parser = build_parser(first if first in COMMANDS and "-h" not in argv[:1] else None)
    args, extra = parser.parse_known_args(argv)
    if extra:
        # `digpy run wf --session X +task`: argparse fills positionals in one go, so a +TASK after
        # options is left over; the subcommand may take it (Digdag accepts options in any order).
        take = getattr(getattr(args, "module", None), "take_extra", None)
        if take is None or not take(args, extra):
            parser.parse_args(argv)  # reports the unrecognized arguments as usual, exit 2
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    from digpy.client.errors import ClientError, Unreachable
    from digpy.core.errors import DigpyError

    try:
        return int(args.module.run(args))
    except DigpyError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except ClientError as e:
        hint = ("; start one with `digpy server` or pass -e URL" if isinstance(e, Unreachable) else
                "" if "digpy token create" in e.message else HINTS.get(e.status, ""))  # said once
        print(f"error: {e.message}{hint}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAILED
    except OSError as e:  # the machine said no (a file, a directory, a device): one line, not a traceback
        where = f": {e.filename}" if e.filename else ""
        print(f"error: {e.strerror or e}{where}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    raise SystemExit(main())
