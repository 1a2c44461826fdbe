"""Rows → the REST model (digpy.client.model) → the JSON the server sends: ids as strings, instants in
UTC with Z, session times in the workflow's zone. The shapes themselves are the model's."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from digpy.client import model
from digpy.core.language.builtins import format_session_time
from digpy.core.store import CANCEL_REQUESTED, DONE, PARTIAL, QUEUED, SUCCESS
from digpy.core.workflow.model import TaskFlags, TaskState
from digpy.core.workflow.params import deep_merge


def instant(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def session_time(epoch: int, timezone: str) -> str:
    return format_session_time(datetime.fromtimestamp(epoch, ZoneInfo(timezone)))


_EMPTY: dict[str, Any] = {"{}": dict, "[]": list}


def _json(text: Any) -> Any:
    if isinstance(text, str):
        empty = _EMPTY.get(text)  # most of a task's columns: no parse
        return empty() if empty is not None else json.loads(text)
    return text


def _md5(hex_digest: str | None) -> str | None:
    """The archive's MD5 as Digdag sends it (its bytes in base64); stored as hex."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii") if hex_digest else None


def _project_of(row: dict[str, Any]) -> dict[str, Any]:
    """The project fields of a row's resource; a deleted project keeps its name, as in Digdag."""
    return {"project_id": str(row["project_id"]),
            "project_name": row.get("project_name") or row.get("project_deleted_name")}


def project(row: dict[str, Any], revision: dict[str, Any] | None) -> dict[str, Any]:
    return model.Project(
        id=str(row["id"]), name=row["name"] if row["name"] is not None else row["deleted_name"],
        revision=revision["name"] if revision else None, created_at=instant(row["created_at"]),
        updated_at=instant(row["updated_at"]), deleted_at=instant(row.get("deleted_at")), archive_type="db",
        archive_md5=_md5(revision["archive_md5"]) if revision else None,
    ).to_json()


def revision(row: dict[str, Any]) -> dict[str, Any]:
    return model.Revision(
        revision=row["name"], created_at=instant(row["created_at"]), archive_type="db",
        archive_md5=_md5(row["archive_md5"]), user_info=_json(row.get("user_info") or "{}"),
    ).to_json()


def workflow(row: dict[str, Any]) -> dict[str, Any]:
    return model.Workflow(
        id=str(row["id"]), name=row["name"], project_id=str(row["project_id"]), project_name=row["project_name"],
        revision=row["revision"], timezone=row["timezone"], config=_json(row["config"]),
    ).to_json()


def truncated_session_time(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A workflow row's session time `at` (already truncated), in the workflow's zone."""
    return model.TruncatedSessionTime(
        project_id=str(row["project_id"]), project_name=row["project_name"], revision=row["revision"],
        session_time=format_session_time(at.astimezone(ZoneInfo(row["timezone"]))), timezone=row["timezone"],
    ).to_json()


def _attempt(row: dict[str, Any]) -> model.Attempt:
    flags = row["state_flags"]
    return model.Attempt(
        id=str(row["id"]), index=row["attempt_index"], **_project_of(row), workflow_name=row["workflow_name"],
        workflow_id=str(row["workflow_definition_id"]) if row["workflow_definition_id"] else None,
        session_id=str(row["session_id"]), session_uuid=row["session_uuid"],
        session_time=session_time(row["session_time"], row["timezone"]), retry_attempt_name=row["attempt_name"],
        done=bool(flags & DONE), success=bool(flags & SUCCESS), cancel_requested=bool(flags & CANCEL_REQUESTED),
        params=_json(row["params"]), created_at=instant(row["created_at"]), finished_at=instant(row["finished_at"]),
        queued=bool(flags & QUEUED), queue=row.get("queue_name"), partially_succeeded=bool(flags & PARTIAL),
    )


def attempt(row: dict[str, Any]) -> dict[str, Any]:
    return _attempt(row).to_json()


def session(row: dict[str, Any], last_attempt: dict[str, Any] | None) -> dict[str, Any]:
    return model.Session(
        id=str(row["id"]), **_project_of(row), workflow_name=row["workflow_name"],
        workflow_id=str(last_attempt["workflow_definition_id"]) if last_attempt else None,
        session_uuid=row["session_uuid"],
        session_time=session_time(row["session_time"], last_attempt["timezone"] if last_attempt else "UTC"),
        last_attempt=_attempt(last_attempt).summary() if last_attempt else None,
    ).to_json()


def task(row: dict[str, Any]) -> dict[str, Any]:
    """As Digdag's RestTask: `config` is the task's own keys with its `_export` (if any), and
    `exportParams` that `_export` with what the task exported at run time merged onto it."""
    config, export = _json(row["config"]), _json(row["export"])
    return model.Task(
        id=str(row["id"]), full_name=row["full_name"],
        parent_id=str(row["parent_id"]) if row["parent_id"] is not None else None,
        config={**config, "_export": export} if export else config,
        upstreams=[str(u) for u in _json(row["upstreams"])], is_group=bool(row["is_group"]),
        state=TaskState(row["state"]).label, cancel_requested=bool(row["flags"] & TaskFlags.CANCEL_REQUESTED),
        export_params=deep_merge(export, _json(row["export_params"])) if export else _json(row["export_params"]),
        store_params=_json(row["store_params"]),
        state_params=_json(row["state_params"]), updated_at=instant(row["updated_at"]),
        retry_at=instant(row["retry_at"]), started_at=instant(row["started_at"]), error=_json(row["error"]) or {},
        retry_count=row["retry_count"],
    ).to_json()


def workflow_tasks(specs: list[Any]) -> list[dict[str, Any]]:
    """A compiled workflow's task specs (digpy.core.workflow.spec.TaskSpec), with each `_error` and
    `_check` subtree as a child of its task, as the REST model's WorkflowTask."""
    out: list[dict[str, Any]] = []

    def add(subtree: Sequence[Any], parent: int | None) -> None:
        ids: list[int] = []
        for spec in subtree:
            ids.append(len(out))
            location = spec.location
            owner = parent if spec.parent is None else ids[spec.parent]
            out.append(model.WorkflowTask(
                id=str(ids[-1]), full_name=spec.full_name, parent_id=None if owner is None else str(owner),
                upstreams=[str(ids[u]) for u in spec.upstreams], is_group=spec.is_group,
                config={**spec.config, "_export": spec.export} if spec.export else spec.config,
                file=location.file if location else None, line=location.line if location else None,
            ).to_json())
        for spec, own in zip(subtree, ids, strict=True):
            for handler in (spec.directives.error, spec.directives.check):
                if handler:
                    add(handler, own)

    add(specs, None)
    return out


def log_file(entry: dict[str, Any]) -> dict[str, Any]:
    """A task log file of the server's LogStore (`fileTime` an epoch there)."""
    return model.LogFile(file_name=entry["fileName"], file_size=entry["fileSize"], task_name=entry["taskName"],
                         file_time=instant(entry["fileTime"]), agent_id="local", direct=None).to_json()


def project_secret(key: str, project_row: dict[str, Any]) -> dict[str, Any]:
    """The answer to setting or deleting a secret of a project."""
    return model.ProjectSecret(key=key, project_id=str(project_row["id"]), project_name=project_row["name"]).to_json()


def _schedule_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]), **_project_of(row), "workflow_id": str(row["workflow_definition_id"]),
        "workflow_name": row["workflow_name"], "next_run_time": instant(row["next_run_time"]),
        "next_schedule_time": session_time(row["next_schedule_time"], row["timezone"]),
        "disabled_at": instant(row["disabled_at"]),
    }


def schedule(row: dict[str, Any], *, summary: bool = False, last_session: dict[str, Any] | None = None,
             last_attempt: dict[str, Any] | None = None) -> dict[str, Any]:
    """A schedule row (with its project's name and its workflow's time zone and config) as the API
    sends it; the full form with the session it started last and that session's last attempt."""
    if summary:
        return model.ScheduleSummary(**_schedule_fields(row), created_at=instant(row["created_at"]),
                                     updated_at=instant(row["updated_at"])).to_json()
    last = row["last_session_time"]
    config = _json(row["config"])
    return model.Schedule(**_schedule_fields(row), last_session_time=None if last is None else
                          session_time(last, row["timezone"]), timezone=row["timezone"],
                          schedule=dict(config.get("schedule") or {}),
                          last_session_id=str(last_session["id"]) if last_session else None,
                          last_attempt=_attempt(last_attempt).summary() if last_attempt else None).to_json()


def backfill(row: dict[str, Any], attempts: list[dict[str, Any]], session_times: list[datetime]) -> dict[str, Any]:
    """A backfill's answer: the schedule's workflow, the attempts started, the slots' session times."""
    return model.Backfill(
        id=str(row["id"]), **_project_of(row), workflow_id=str(row["workflow_definition_id"]),
        workflow_name=row["workflow_name"], attempts=[model.Attempt.from_json(a) for a in attempts],
        session_times=[format_session_time(t) for t in session_times]).to_json()
