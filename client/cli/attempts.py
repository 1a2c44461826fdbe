"""`digpy start | retry | kill | sessions | session | attempts | attempt | tasks` on a server."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from digpy.client.cli.params import add_param_options, collect_params
from digpy.client.cli.remote import add_client_options, client, emit_json, table


def add_parser(sub: Any, name: str) -> argparse.ArgumentParser:
    if name == "start":
        p = sub.add_parser(name, help="start a workflow's session on the server")
        p.add_argument("project_name", metavar="PROJECT")
        p.add_argument("workflow", metavar="WORKFLOW")
        p.add_argument("--session", default="now",
                       help='now (default), hourly, daily, "yyyy-MM-dd" or "yyyy-MM-dd HH:mm:ss" (workflow time zone)')
        p.add_argument("--revision", help="a revision of the project (default: latest)")
        p.add_argument("--retry", metavar="NAME", help="start another attempt of an existing session under this name")
        _add_no_queue(p)
        add_param_options(p)
    elif name == "retry":
        p = sub.add_parser(name, help="run an attempt's session again")
        p.add_argument("attempt_id", metavar="ATTEMPT")
        how = p.add_mutually_exclusive_group()
        how.add_argument("--all", action="store_true", help="run every task again (default)")
        how.add_argument("--resume", action="store_true", help="skip the tasks that succeeded")
        how.add_argument("--resume-from", metavar="+TASK", help="skip the tasks before +TASK")
        revision = p.add_mutually_exclusive_group()
        revision.add_argument("--latest-revision", action="store_true", help="use the project's latest revision")
        revision.add_argument("--keep-revision", action="store_true", help="use the same revision (default)")
        revision.add_argument("--revision", metavar="R", help="use revision R of the project")
        p.add_argument("--name", help="the new attempt's name (default: a new UUID)")
        _add_no_queue(p)
        add_param_options(p)
    elif name == "kill":
        p = sub.add_parser(name, help="kill an attempt: running commands are stopped, nothing new starts")
        p.add_argument("attempt_id", metavar="ATTEMPT")
    elif name == "sessions":
        p = sub.add_parser(name, help="list sessions, newest first")
        p.add_argument("project_name", nargs="?", metavar="PROJECT")
        p.add_argument("workflow", nargs="?", metavar="WORKFLOW")
        p.add_argument("-i", "--last-id", help="only sessions before this id")
        p.add_argument("-s", "--page-size", type=int, help="at most this many (100)")
    elif name == "session":
        p = sub.add_parser(name, help="show a session and its attempts")
        p.add_argument("session_id", metavar="SESSION")
    elif name == "attempts":
        p = sub.add_parser(name, help="list attempts (of a session), newest first")
        p.add_argument("session_id", nargs="?", metavar="SESSION")
        p.add_argument("--project", help="only this project's")
        p.add_argument("-i", "--last-id", help="only attempts before this id")
        p.add_argument("-s", "--page-size", type=int, help="at most this many (100)")
    elif name == "attempt":
        p = sub.add_parser(name, help="show an attempt")
        p.add_argument("attempt_id", metavar="ATTEMPT")
    else:
        p = sub.add_parser(name, help="list an attempt's tasks")
        p.add_argument("attempt_id", metavar="ATTEMPT")
    add_client_options(p)
    parser: argparse.ArgumentParser = p
    return parser


def _add_no_queue(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-queue", action="store_true",
                   help="start at once: do not wait in the workflow's queue or for its max_active_attempts "
                        "(the attempt still counts against them while it runs)")


def run(args: argparse.Namespace) -> int:
    return {"start": start, "retry": retry, "kill": kill, "sessions": sessions, "session": session,
            "attempts": attempts, "attempt": attempt, "tasks": tasks}[args.command](args)


def session_time(value: str, timezone: str, now: datetime | None = None) -> str:
    """--session in the workflow's time zone → an ISO-8601 time with offset."""
    from digpy.core.errors import ConfigError

    zone = ZoneInfo(timezone)
    current = (now or datetime.now(zone)).astimezone(zone).replace(microsecond=0)
    if value == "now":
        t = current
    elif value == "hourly":
        t = current.replace(minute=0, second=0)
    elif value == "daily":
        t = current.replace(hour=0, minute=0, second=0)
    else:
        for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
            try:
                t = datetime.strptime(value, fmt).replace(tzinfo=zone)
                break
            except ValueError:
                continue
        else:
            raise ConfigError(f"invalid --session '{value}'",
                              hint='use now, hourly, daily, "yyyy-MM-dd" or "yyyy-MM-dd HH:mm:ss"')
    return t.isoformat()


def _show(args: argparse.Namespace, a: Any, headline: str) -> None:
    if args.json:
        emit_json(a)
        return
    print(headline)
    params = json.dumps(a.params, ensure_ascii=False)  # as the user writes them (-P FILE, the REST API)
    queue = (("queue", a.queue),) if a.queue else ()
    for label, value in (("id", a.id), ("project", a.project_name), ("workflow", a.workflow_name),
                         ("session id", a.session_id), ("session time", a.session_time),
                         ("retry name", a.retry_attempt_name),
                         ("status", f"{a.status} (partially succeeded)" if a.partially_succeeded else a.status), *queue, ("params", params),
                         ("created at", a.created_at), ("finished at", a.finished_at)):
        print(f"  {label + ':':<14}{'' if value is None else value}")


def start(args: argparse.Namespace) -> int:
    api = client(args)
    project = api.project(args.project_name)
    workflow = api.workflow(project.id, args.workflow, args.revision)
    when = session_time(args.session, workflow.timezone)
    created_attempt, created = api.start_attempt(workflow.id, when, params=collect_params(args),
                                                 retry_attempt_name=args.retry, bypass_queue=args.no_queue)
    if not created:
        print(f"error: a session of {workflow.name} at {when} already has that attempt "
              f"(attempt {created_attempt.id}); use --retry NAME to run it again", file=sys.stderr)
        return 1
    _show(args, created_attempt, "Queued a session attempt:" if created_attempt.status == "queued"
          else "Started a session attempt:")
    if not args.json:
        print(f"\n  * Use `digpy attempt {created_attempt.id}` or `digpy log {created_attempt.id} -f` to follow it.",
              file=sys.stderr)
    return 0


def retry(args: argparse.Namespace) -> int:
    api = client(args)
    old = api.attempt(args.attempt_id)
    workflow_id = old.workflow_id
    if args.latest_revision or args.revision:
        workflow_id = api.workflow(old.project_id, old.workflow_name, args.revision).id
    resume = None
    if args.resume:
        resume = {"mode": "failed", "attemptId": old.id}
    elif args.resume_from:
        resume = {"mode": "from", "attemptId": old.id, "from": args.resume_from}
    params = {**old.params, **collect_params(args)}
    name = args.name or str(uuid.uuid4())
    new, created = api.start_attempt(str(workflow_id), old.session_time, params=params, retry_attempt_name=name,
                                     resume=resume, bypass_queue=args.no_queue)
    if not created:
        print(f"error: the session already has an attempt named {name} (attempt {new.id})", file=sys.stderr)
        return 1
    _show(args, new, "Started a retry:")
    return 0


def kill(args: argparse.Namespace) -> int:
    a = client(args).kill(args.attempt_id)
    if a.done:  # it was queued: it ends without running
        print(f"Attempt {a.id} was waiting in its queue: killed without running.", file=sys.stderr)
    else:
        print(f"Kill requested for attempt {a.id}: running tasks are being stopped.", file=sys.stderr)
    return 0


def sessions(args: argparse.Namespace) -> int:
    api = client(args)
    project_id = api.project(args.project_name).id if args.project_name else None
    rows = api.sessions(project_id, args.workflow, args.last_id, args.page_size)
    if args.json:
        emit_json(rows)
        return 0
    table([(s.id, s.project_name, s.workflow_name, s.session_time, s.last_attempt and s.last_attempt.id,
            s.last_attempt and s.last_attempt.status) for s in rows],
          ["ID", "PROJECT", "WORKFLOW", "SESSION TIME", "LAST ATTEMPT", "STATUS"])
    return 0


def session(args: argparse.Namespace) -> int:
    api = client(args)
    s = api.session(args.session_id)
    rows = api.attempts(session_id=s.id)
    if args.json:
        emit_json({"session": s, "attempts": rows})
        return 0
    print(f"Session {s.id}: {s.project_name} / {s.workflow_name} at {s.session_time}")
    _attempt_table(rows)
    return 0


def _attempt_table(rows: list[Any]) -> None:
    table([(a.id, a.project_name, a.workflow_name, a.session_time, a.retry_attempt_name, a.status, a.created_at,
            a.finished_at) for a in rows],
          ["ID", "PROJECT", "WORKFLOW", "SESSION TIME", "RETRY", "STATUS", "CREATED", "FINISHED"])


def attempts(args: argparse.Namespace) -> int:
    rows = client(args).attempts(session_id=args.session_id, project=args.project, include_retried=True,
                                 last_id=args.last_id, page_size=args.page_size)
    if args.json:
        emit_json(rows)
        return 0
    _attempt_table(rows)
    return 0


def attempt(args: argparse.Namespace) -> int:
    _show(args, client(args).attempt(args.attempt_id), "Attempt:")
    return 0


def _state_word(state: str, status: str) -> str:
    """Digdag's state, and Dagu's word beside it where it differs: `success (skipped)` (an unmet
    `_precondition`), `success (failed)` (a failure under `_continue_on`)."""
    return state if status == state else f"{state} ({status})"


def tasks(args: argparse.Namespace) -> int:
    rows = client(args).tasks(args.attempt_id)
    if args.json:
        emit_json(rows)
        return 0
    table([(t.id, t.full_name, _state_word(t.state, t.status), t.started_at, t.updated_at, t.retry_at,
            (t.error or {}).get("message", "")) for t in rows],
          ["ID", "NAME", "STATE", "STARTED", "UPDATED", "RETRY AT", "ERROR"])
    return 0
