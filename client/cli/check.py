"""`digpy check [WORKFLOW]`: load and compile the project's workflows and show what they define."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from digpy.client.cli.params import add_param_options, collect_params


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="check workflow definitions", description="Load and compile workflows; show "
        "their tasks, params and schedules. Exits 2 with a located error if a file is invalid.")
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
    registry = load_registry()
    files = [project.resolve(args.workflow)] if args.workflow else project.workflow_files()
    workflows = [project.load(path, operators=registry.names()) for path in files]
    params = collect_params(args)
    print(f"  System default timezone: {datetime.now().astimezone().tzname()}")
    print()
    print(f"  Definitions ({len(workflows)} workflows):")
    for wf in workflows:
        print(f"    {wf.name} ({wf.task_count} tasks)")
        required = [t.config.get("_command") for t in wf.tasks if t.config.get("_type") == "require"]
        for name in dict.fromkeys(str(r) for r in required if r is not None):  # each once, in order
            print(f"      -> {name}")
    print()
    print("  Parameters:")
    print("    " + json.dumps(params, ensure_ascii=False))
    scheduled = [wf for wf in workflows if wf.schedule is not None]
    print()
    print(f"  Schedules ({len(scheduled)} entries):")
    for wf in scheduled:
        assert wf.schedule is not None
        schedule = parse_schedule(wf.schedule, wf.timezone, wf.schedule_location)
        slot = schedule.first(datetime.now(ZoneInfo(wf.timezone)))
        print(f"    {wf.name}:")
        for key, value in wf.schedule.items():
            print(f"      {key}: {value}")
        if slot is None:
            print("      no more sessions (past the schedule's end)")
        else:
            print(f"      first session time: {slot.session_time:%Y-%m-%d %H:%M:%S %z}")
            print(f"      first runs at: {slot.run_time:%Y-%m-%d %H:%M:%S %z}")
    return 0
