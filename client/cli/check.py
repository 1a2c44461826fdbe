"""`digpy check [WORKFLOW]`: load and compile the project's workflows and show what they define."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digpy.client.cli.params import add_param_options, collect_params
from digpy.client.cli.text import counted

if TYPE_CHECKING:
    from digpy.core.plugin_manager import Registry
    from digpy.core.project import Project
    from digpy.core.workflow.spec import Workflow


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="check workflow definitions", description="Load and compile workflows and check the "
        "syntax of their ${...}; show their tasks, params and schedules. Every invalid file is reported "
        "(each error located), then the command exits 2.")
    parser.add_argument("workflow", nargs="?", help="check only this workflow")
    parser.add_argument("--project", metavar="DIR", help="the project directory (default: current)")
    add_param_options(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from digpy.core.plugin_manager import load_registry
    from digpy.core.project import Project
    from digpy.core.workflow.schedule import parse_schedule

    project = Project(Path(args.project) if args.project else Path.cwd())
    params = collect_params(args)
    registry = load_registry()
    for plugin in registry.broken:
        print(f"warning: {plugin}", file=sys.stderr)
    files = [project.resolve(args.workflow)] if args.workflow else project.workflow_files()
    workflows: list[Workflow] = []
    errors: list[list[str]] = []  # per invalid file, its errors
    for path in files:
        found = _load(project, path, registry)
        if isinstance(found, list):
            errors.append(found)
        else:
            workflows.append(found)
    print(f"  System default timezone: {datetime.now().astimezone().tzname()}")
    print()
    print(f"  Definitions ({counted(len(workflows), 'workflow')}):")
    for wf in workflows:
        print(f"    {wf.name} ({wf.task_count} tasks)" if wf.task_count > 1 else f"    {wf.name} (no tasks: nothing to run)")
        required = [t.config.get("_command") for t in wf.tasks if t.config.get("_type") == "require"]
        for name in dict.fromkeys(str(r) for r in required if r is not None):  # each once, in order
            print(f"      -> {name}")
    print()
    print("  Parameters:")
    print("    " + json.dumps(params, ensure_ascii=False))
    scheduled = [wf for wf in workflows if wf.schedule is not None]
    print()
    print(f"  Schedules ({counted(len(scheduled), 'entry', 'entries')}):")
    for wf in scheduled:
        assert wf.schedule is not None
        schedule = parse_schedule(wf.schedule, wf.timezone, wf.schedule_location)
        slot = schedule.first(datetime.now(ZoneInfo(wf.timezone)))
        print(f"    {wf.name}:")
        for key, value in wf.schedule.items():
            print(f"      {key}: {' | '.join(map(str, value)) if isinstance(value, list) else value}")
        if slot is None:
            print("      no more sessions (past the schedule's end)")
        else:
            print(f"      first session time: {slot.session_time:%Y-%m-%d %H:%M:%S %z}")
            print(f"      first runs at: {slot.run_time:%Y-%m-%d %H:%M:%S %z}")
    sys.stdout.flush()
    for message in (m for messages in errors for m in messages):
        print(f"error: {message}", file=sys.stderr)
    if len(files) > 1 and errors:
        verb = "has" if len(errors) == 1 else "have"
        print(f"error: {len(errors)} of {len(files)} workflow files {verb} errors", file=sys.stderr)
    return 2 if errors else 0


def _load(project: Project, path: Path, registry: Registry) -> Workflow | list[str]:
    """The workflow of one file, or every error found in it (the first error of its structure,
    then each ${...} that does not compile)."""
    from digpy.core.errors import ConfigError, UnknownOperator

    try:
        workflow = project.load(path, operators=registry.names())
    except UnknownOperator as e:
        return [str(registry.explain(e))]
    except ConfigError as e:
        return [str(e) if e.location else f"{path.relative_to(project.directory)}: {e}"]
    except OSError as e:
        return [f"{path.relative_to(project.directory)}: {e.strerror or e}"]
    return workflow.expression_errors or workflow
