"""`digpy run WORKFLOW [+TASK]`: run a workflow locally, resuming the session's earlier attempt."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from digpy.client.cli.params import add_param_options, collect_params
from digpy.client.cli.text import counted

HINTS = (
    '  * Use --session <daily | hourly | "yyyy-MM-dd[ HH:mm:ss]"> to not reuse the last session time.',
    "  * Use --rerun, --start +NAME, or --goal +NAME argument to rerun skipped tasks.",
)


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help="run a workflow locally",
        description="Run a workflow of the project in the current directory (or --project DIR). "
                    "A second run of the same session skips the tasks that succeeded.",
    )
    parser.add_argument("workflow", help="workflow name, file name (wf.dig) or path (dir/wf.dig)")
    parser.add_argument("task", nargs="?", help="run only this task (+name) and its subtasks")
    parser.add_argument("--project", metavar="DIR", help="the project directory (default: the workflow's)")
    parser.add_argument("--session", default="last", metavar="TIME",
                        help='session time: last (default), daily, hourly, schedule, "yyyy-MM-dd[ HH:mm:ss]"')
    parser.add_argument("-a", "--rerun", action="store_true", help="run every task, skipping none")
    parser.add_argument("-s", "--start", metavar="+TASK", help="run this task and every task after it")
    parser.add_argument("-g", "--goal", metavar="+TASK", help="run this task and its subtasks, skip all after it")
    parser.add_argument("-e", "--end", metavar="+TASK", help="stop before this task")
    add_param_options(parser)
    parser.add_argument("-d", "--dry-run", action="store_true", help="show what would run; run nothing")
    parser.add_argument("-E", "--show-params", action="store_true", help="log each task's params")
    parser.add_argument("--max-task-threads", type=int, metavar="N",
                        help="how many tasks may run at once (default 32)")
    parser.add_argument("--output", choices=("auto", "live", "plain"), default="auto",
                        help="live: a status view (default on a terminal); plain: raw output on stdout")
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    return parser


def take_extra(args: argparse.Namespace, extra: list[str]) -> bool:
    """A `+task` given after options."""
    if len(extra) == 1 and extra[0].startswith("+") and args.task is None:
        args.task = extra[0]
        return True
    return False


def run(args: argparse.Namespace) -> int:
    from digpy.client.cli.output import LiveLogHandler, LiveOutput, PlainOutput, configure_logging
    from digpy.core.engine.local import LocalRunOptions, run_local
    from digpy.core.engine.runner import tune_gc
    from digpy.core.errors import ConfigError

    workflow = args.workflow
    if args.project:
        project_dir = Path(args.project)
    elif os.sep in workflow and Path(workflow).parent.is_dir():
        project_dir, workflow = Path(workflow).parent, Path(workflow).name
    else:
        project_dir = Path.cwd()
    if args.max_task_threads is not None and args.max_task_threads < 1:
        raise ConfigError("--max-task-threads must be at least 1")
    options = LocalRunOptions(
        workflow=workflow, task=args.task, session=args.session, rerun=args.rerun, start=args.start,
        goal=args.goal, end=args.end, params=collect_params(args), dry_run=args.dry_run,
        show_params=args.show_params, max_tasks=args.max_task_threads,
    )
    live = args.output == "live" or (args.output == "auto" and sys.stdout.isatty())
    handler = configure_logging(args.log_level)
    output: Any
    if live:
        output = LiveOutput()
        logging.getLogger("digpy").handlers[:] = [LiveLogHandler(output)]
    else:
        output = PlainOutput()
    tune_gc()
    try:
        result = run_local(project_dir, options, output)
    finally:
        output.close()
        logging.getLogger("digpy").handlers[:] = [handler]
    if result.success and options.dry_run:
        print(f"Success (dry run: nothing ran, nothing was recorded; {result.elapsed:.2f}s).", file=sys.stderr)
        return 0
    if result.success:
        skipped = f", {counted(result.skipped, 'task')} skipped" if result.skipped else ""
        print(f"Success. Task state is saved at {result.state_dir} directory ({result.elapsed:.2f}s{skipped}).",
              file=sys.stderr)
        for hint in HINTS:
            print(hint, file=sys.stderr)
        return 0
    if result.state.label == "canceled":
        print(f"Canceled. Task state is saved at {result.state_dir} directory; run again to resume.",
              file=sys.stderr)
        return 130
    print("error: ", file=sys.stderr)
    for name, message in result.failures:
        print(f"  * {name}:", file=sys.stderr)
        for line in (message or "(no message)").splitlines():
            print(f"    {line}", file=sys.stderr)
    print(f"Task state is saved at {result.state_dir} directory.", file=sys.stderr)
    for hint in HINTS:
        print(hint, file=sys.stderr)
    return 1

