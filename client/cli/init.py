"""`digpy init DIR`: create a new project with a first workflow."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

GITIGNORE = ".digpy\n.digdag\n*.pyc\n__pycache__/\n"

TEMPLATES = {
    "echo": """timezone: UTC

_export:
  greeting: hello

+setup:
  echo>: ${greeting} from ${session_date}

+disp_current_date:
  echo>: ${moment(session_time).utc().format('YYYY-MM-DD HH:mm:ss Z')}

+in_parallel:
  _parallel: true
  +first:
    echo>: first step of ${task_name}
  +second:
    sh>: echo "second step, session $session_date"
""",
    "sh": """timezone: UTC

_export:
  target: world

+greet:
  sh>: echo "hello, $target"

+files:
  sh>: ls -1 | head -n 5
""",
}


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help="create a new project",
                                                     description="Create DIR with DIR.dig and a .gitignore.")
    parser.add_argument("directory", help="the project directory to create (may exist)")
    parser.add_argument("-t", "--type", choices=sorted(TEMPLATES), default="echo", help="the workflow template")
    return parser


def run(args: argparse.Namespace) -> int:
    from digpy.core.errors import ConfigError
    from digpy.core.workflow.tree import check_workflow_name

    directory = Path(args.directory)
    name = directory.resolve().name
    if not name:
        raise ConfigError(f"{args.directory} cannot be a project directory", hint="name a new directory")
    # The workflow is named after the directory: it must be a name `digpy run` accepts.
    try:
        check_workflow_name(name)
    except ConfigError as e:
        raise ConfigError(f"a project named '{name}' would hold a workflow with an invalid name",
                          hint=e.hint) from None
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} exists and is not a directory", hint="choose another directory")
    files = {directory / f"{name}.dig": TEMPLATES[args.type], directory / ".gitignore": GITIGNORE}
    for path in files:
        if path.exists():
            raise ConfigError(f"file {path} already exists", hint="choose another directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in files.items():
            print(f"  Creating {path}")
            path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot create the project in {directory}: {e.strerror or e}") from None
    print(f"Done. Type `cd {args.directory}` and then `digpy run {name}.dig` to run the workflow. Enjoy!")
    return 0
