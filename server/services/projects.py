"""Projects, their revisions and archives, and the workflows of a revision."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection

from digpy.core.errors import ConfigError, DigpyError, NotFound
from digpy.core.plugin_manager import Registry
from digpy.core.project import Project
from digpy.core.store import catalog, schedules
from digpy.core.store.server import ServerStore
from digpy.core.workflow.schedule import parse_schedule
from digpy.core.workflow.spec import Workflow
from digpy.core.workflow.tree import compile_workflow, unknown_operator_warning
from digpy.server import rest
from digpy.server.archive import push_directory, read_archive, unpack
from digpy.server.plugins import unknown_operator
from digpy.server.project_check import check_in_child
from digpy.server.services import schedules as scheduling

log = logging.getLogger("digpy.server.projects")
TRUNCATE = ("second", "minute", "hour", "day")


def _project(conn: Connection, row: dict[str, Any]) -> dict[str, Any]:
    return rest.project(row, catalog.latest_revision(conn, row["id"]))


def list_projects(store: ServerStore, *, name: str | None = None, name_pattern: str | None = None,
                  last_id: int | None = None, count: int = 100) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = catalog.list_projects(conn, name=name, last_id=last_id, count=count)
        if name_pattern:
            rows = [r for r in rows if name_pattern in (r["name"] or "")]
        return [_project(conn, r) for r in rows]


def get_project(store: ServerStore, project_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        return _project(conn, catalog.get_project(conn, project_id))


def delete_project(store: ServerStore, project_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        revision = catalog.latest_revision(conn, project_id)
        deleted = catalog.delete_project(conn, project_id)
        schedules.remove_project(conn, project_id)  # a deleted project's schedules stop
        return rest.project(deleted, revision)


def push(store: ServerStore, registry: Registry, *, name: str, revision: str, archive: bytes,
         max_bytes: int, queues: Collection[str] = ()) -> dict[str, Any]:
    """Store a new revision of a project: its archive is unpacked and every workflow compiled first,
    so that a revision with a broken workflow is refused with the first error, as is a workflow
    whose `queue:` is none of the server's `queues`. An operator the server does not know is let
    in, as in Digdag (a task using it fails when it is reached), with a warning in the server log."""
    files = read_archive(archive, max_bytes=max_bytes)
    with push_directory() as tmp:
        root = tmp / "project"
        unpack(files, root)
        project = Project(root)
        workflow_files = project.workflow_files()
        if not workflow_files:
            raise ConfigError("the archive has no .dig workflow at its top level")
        check_in_child(root, registry.names())  # a file that crashes or exhausts the loader stops only a child
        workflows = [project.load(path, operators=registry.names(), cache=False, lenient=True)
                     for path in workflow_files]
    for workflow in workflows:
        _check_queue(workflow, queues)
    for error in (e for workflow in workflows for e in workflow.unknown_operators):
        log.warning("project %s revision %s: %s", name, revision, unknown_operator_warning(unknown_operator(error)))
    with store.begin() as conn:
        row = catalog.put_revision(conn, project=name, revision=revision, archive=archive, workflows=workflows)
        scheduling.sync(conn, int(row["id"]), catalog.list_workflows(conn, int(row["id"]), revision), time.time())
        return _project(conn, row)


def _check_queue(workflow: Workflow, queues: Collection[str]) -> None:
    queue = workflow.limits.queue
    if queue is not None and queue not in queues:
        known = ", ".join(sorted(queues))
        raise ConfigError(f"queue '{queue}' is not configured on this server", location=workflow.limits.queue_location,
                          hint=f"its queues: {known}" if known else
                          f"it has none: start it with --queue {queue}=LIMIT (or queues: in its config file)")


def list_revisions(store: ServerStore, project_id: int, *, name: str | None = None) -> list[dict[str, Any]]:
    with store.begin() as conn:
        project_id = catalog.get_project(conn, project_id)["id"]
        rows = catalog.list_revisions(conn, project_id)
    return [rest.revision(r) for r in rows if not name or r["name"] == name]


def archive(store: ServerStore, project_id: int, revision: str | None) -> tuple[str, bytes]:
    """(the project's name, the revision's archive)."""
    with store.begin() as conn:
        project = catalog.get_project(conn, project_id)
        found = catalog.get_revision(conn, project["id"], revision)
    return project["name"], found["archive"] or b""


def project_workflows(store: ServerStore, project_id: int, *, revision: str | None = None,
                      name: str | None = None) -> list[dict[str, Any]]:
    with store.begin() as conn:
        project_id = catalog.get_project(conn, project_id)["id"]
        return [rest.workflow(r) for r in catalog.list_workflows(conn, project_id, revision, name)]


def project_workflow(store: ServerStore, project_id: int, name: str, *, revision: str | None = None) -> dict[str, Any]:
    with store.begin() as conn:
        project = catalog.get_project(conn, project_id)
        rows = catalog.list_workflows(conn, project["id"], revision, name)
    if not rows:
        raise NotFound(f"workflow '{name}' not found in project '{project['name']}'")
    return rest.workflow(rows[0])


def latest_workflows(store: ServerStore, *, last_id: int | None = None, count: int = 100,
                     name_pattern: str | None = None, descending: bool = False,
                     search_project_name: bool = False) -> list[dict[str, Any]]:
    with store.begin() as conn:
        rows = catalog.list_latest_workflows(conn, last_id=last_id, count=count, name_pattern=name_pattern,
                                             descending=descending, search_project_name=search_project_name)
        return [rest.workflow(r) for r in rows]


def get_workflow(store: ServerStore, workflow_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        return rest.workflow(catalog.get_workflow(conn, workflow_id))


_COMPILED: OrderedDict[int, list[dict[str, Any]]] = OrderedDict()  # definition id -> its tasks (never change)
_COMPILED_LOCK = threading.Lock()
COMPILED_KEPT = 64


def workflow_tasks(store: ServerStore, registry: Registry, workflow_id: int) -> list[dict[str, Any]]:
    """The compiled tasks of a workflow definition (REST WorkflowTask), with where each is written:
    compiled from the revision's files when they hold it, else from the stored definition."""
    with _COMPILED_LOCK:
        known = _COMPILED.get(workflow_id)
    if known is not None:
        return known
    with store.begin() as conn:
        row = catalog.get_workflow(conn, workflow_id)
        archive = catalog.get_revision_by_id(conn, row["revision_id"])["archive"] if row["revision_id"] else None
    workflow = _from_files(row["name"], archive, registry) if archive else None
    if workflow is None:
        workflow = compile_workflow(row["name"], json.loads(row["config"]), operators=registry.names(), lenient=True)
    tasks = rest.workflow_tasks(workflow.tasks)
    with _COMPILED_LOCK:
        _COMPILED[workflow_id] = tasks
        while len(_COMPILED) > COMPILED_KEPT:
            _COMPILED.popitem(last=False)
    return tasks


def _from_files(name: str, archive: bytes, registry: Registry) -> Workflow | None:
    """The workflow compiled from its revision's files (locations known), or None if that fails."""
    try:
        with push_directory("workflow") as tmp:
            root = tmp / "project"
            unpack(read_archive(archive), root)
            project = Project(root)
            for path in project.workflow_files():
                if path.stem == name:
                    return project.load(path, operators=registry.names(), cache=False, lenient=True)
    except DigpyError as e:
        log.warning("workflow %s: its files do not compile here (%s); drawn from the stored definition", name, e)
    return None


def workflow_row(store: ServerStore, workflow_id: int) -> dict[str, Any]:
    with store.begin() as conn:
        return catalog.get_workflow(conn, workflow_id)


def truncated_session_time(row: dict[str, Any], at: Any, mode: str, text: str) -> dict[str, Any]:
    """`at` (in the workflow's zone) truncated by `mode`: second, minute, hour, day, schedule (the
    newest session of the schedule at or before it) or next_schedule."""
    if mode in TRUNCATE:  # zero every field below the mode's
        at = at.replace(microsecond=0, **dict.fromkeys(TRUNCATE[:TRUNCATE.index(mode)], 0))
    elif mode in ("schedule", "next_schedule"):
        config = json.loads(row["config"]) if isinstance(row["config"], str) else row["config"]
        if not isinstance(config, dict) or not isinstance(config.get("schedule"), dict):
            raise ConfigError(f"workflow {row['name']} has no schedule: mode {mode} needs one")
        schedule = parse_schedule(config["schedule"], row["timezone"])
        slot = schedule.slot_at_or_before(at) if mode == "schedule" else schedule.next_slot(at)
        if slot is None:
            where = "at or before" if mode == "schedule" else "after"
            raise NotFound(f"the schedule of {row['name']} has no session {where} {text}")
        at = slot.session_time
    else:
        raise ConfigError(f"mode must be second, minute, hour, day, schedule or next_schedule, got '{mode}'")
    return rest.truncated_session_time(row, at)
