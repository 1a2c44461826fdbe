"""`digpy schedules | backfill | reschedule | enable | disable` on a server.

A schedule is named by its id, or by PROJECT [WORKFLOW] (enable and disable: every schedule of the
project when the workflow is left out).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from digpy.client.cli.remote import add_client_options, client, emit_json, table
from digpy.client.http import Client
from digpy.client.model import Schedule


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    if name == "schedules":
        p = sub.add_parser(name, help="list schedules: next session and run time of each scheduled workflow")
        p.add_argument("project_name", nargs="?", metavar="PROJECT")
        p.add_argument("workflow", nargs="?", metavar="WORKFLOW")
    elif name == "backfill":
        p = sub.add_parser(name, help="start a schedule's past sessions, one after the other")
        _target(p)
        p.add_argument("-f", "--from", dest="from_time", required=True,
                       help='the first session time: "yyyy-MM-dd[ HH:mm:ss]" (workflow time zone) or with an offset')
        p.add_argument("--name", required=True, help="the backfill's attempt name (a session may run under several)")
        p.add_argument("--count", type=int, help="at most this many sessions (default: up to the next scheduled one)")
        p.add_argument("--parallel", type=int, default=1, help="run this many at once (default 1: in order)")
        p.add_argument("-d", "--dry-run", action="store_true", help="list the session times, start nothing")
    elif name == "reschedule":
        p = sub.add_parser(name, help="move a schedule on: skip sessions, or skip to a time")
        _target(p)
        how = p.add_mutually_exclusive_group(required=True)
        how.add_argument("-s", "--skip", type=int, metavar="N", help="skip the next N sessions")
        how.add_argument("-t", "--skip-to", metavar="TIME",
                         help='"now", or the first session time to run: "yyyy-MM-dd[ HH:mm:ss]" or with an offset')
        p.add_argument("-a", "--run-at", metavar="TIME", help="when that session runs (default: its schedule's time)")
        p.add_argument("-d", "--dry-run", action="store_true", help="show the new next session, change nothing")
    else:  # enable, disable
        p = sub.add_parser(name, help=f"{name} schedules: one, a workflow's, or every one of a project")
        _target(p)
        if name == "enable":
            p.add_argument("--catch-up", action="store_true",
                           help="go on from where it stopped (its catch_up policy decides about the missed "
                                "sessions); default: from now on")
    add_client_options(p)
    parser: argparse.ArgumentParser = p
    return parser


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="SCHEDULE_ID|PROJECT")
    p.add_argument("workflow", nargs="?", metavar="WORKFLOW")


def run(args: argparse.Namespace) -> int:
    api = client(args)
    if args.command == "schedules":
        return _list(api, args)
    found = _resolve(api, args.target, args.workflow, many=args.command in ("enable", "disable"))
    if args.command == "backfill":
        return _backfill(api, args, found[0])
    if args.command == "reschedule":
        return _reschedule(api, args, found[0])
    changed = [api.enable_schedule(s.id, catch_up=args.catch_up) if args.command == "enable"
               else api.disable_schedule(s.id) for s in found]
    if args.json:
        emit_json(changed)
        return 0
    for s in changed:
        state = f"disabled since {s.disabled_at}" if s.disabled_at else f"next session {s.next_schedule_time}"
        print(f"{args.command}d: schedule {s.id} of {s.project_name}/{s.workflow_name} ({state})", file=sys.stderr)
    return 0


def _resolve(api: Client, target: str, workflow: str | None, *, many: bool) -> list[Schedule]:
    """The schedules an argument names: an id, or a project and maybe a workflow."""
    from digpy.core.errors import ConfigError

    if target.isdigit() and workflow is None:
        return [api.schedule(target)]
    if workflow is None and not many:
        raise ConfigError(f"name a schedule by its id, or by PROJECT WORKFLOW (got only '{target}')")
    project = api.project(target)
    found = api.schedules(project.id, workflow)
    if not found:
        raise ConfigError(f"{target}{'/' + workflow if workflow else ''} has no schedule",
                          hint="a workflow is scheduled by its `schedule:` key; `digpy schedules` lists them")
    return found


def _list(api: Client, args: argparse.Namespace) -> int:
    project_id = api.project(args.project_name).id if args.project_name else None
    found = api.schedules(project_id, args.workflow)
    if args.json:
        emit_json(found)
        return 0
    table([(s.id, s.project_name, s.workflow_name, s.next_schedule_time, s.next_run_time,
            s.last_session_time or "", f"disabled {s.disabled_at}" if s.disabled_at else "")
           for s in found], ("ID", "PROJECT", "WORKFLOW", "NEXT SESSION", "NEXT RUN", "LAST SESSION", ""))
    return 0


def _backfill(api: Client, args: argparse.Namespace, schedule: Schedule) -> int:
    done = api.backfill(schedule.id, from_time=_time(args.from_time), attempt_name=args.name, count=args.count,
                        parallel=args.parallel, dry_run=args.dry_run)
    if args.json:
        emit_json(done)
        return 0
    if args.dry_run:
        for time in done.session_times:
            print(time)
        print(f"{len(done.session_times)} session(s) would start (dry run)", file=sys.stderr)
        return 0
    table([(a.id, a.session_time, a.retry_attempt_name or "") for a in done.attempts], ("ATTEMPT", "SESSION", "NAME"))
    how = "one after the other" if args.parallel == 1 else f"{args.parallel} at a time"
    print(f"{len(done.attempts)} session(s) of {done.project_name}/{done.workflow_name} started, {how}",
          file=sys.stderr)
    return 0


def _reschedule(api: Client, args: argparse.Namespace, schedule: Schedule) -> int:
    summary = api.skip_schedule(schedule.id, next_time=_time(args.skip_to) if args.skip_to else None,
                                count=args.skip, next_run_time=_time(args.run_at) if args.run_at else None,
                                dry_run=args.dry_run)
    if args.json:
        emit_json(summary)
        return 0
    print(f"{'would move' if args.dry_run else 'moved'} schedule {summary.id} of "
          f"{summary.project_name}/{summary.workflow_name}: next session {summary.next_schedule_time}, "
          f"runs at {summary.next_run_time}", file=sys.stderr)
    return 0


def _time(text: str) -> str:
    """A time as the user writes it (`2026-01-31`, `2026-01-31 10:00:00`, with an offset, `now`) as the
    API reads it: local times stay local (the server reads them in the workflow's zone)."""
    text = text.strip()
    if text == "now":
        return text
    if len(text) == 10:  # a date
        return text + "T00:00:00"
    return text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
