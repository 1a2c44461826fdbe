"""Rows → Digdag's REST JSON shapes (camelCase, ids as strings, instants in UTC with Z)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from digpy.core.language.builtins import format_session_time
from digpy.core.store import CANCEL_REQUESTED, DONE, SUCCESS
from digpy.core.workflow.model import TaskFlags, TaskState
from digpy.core.workflow.params import deep_merge


def instant(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_time(epoch: int, timezone: str) -> str:
    return format_session_time(datetime.fromtimestamp(epoch, ZoneInfo(timezone)))


def _json(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else text


def _md5(hex_digest: str | None) -> str | None:
    """The archive's MD5 as Digdag sends it (its bytes in base64); stored as hex."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii") if hex_digest else None


def _project_ref(row: dict[str, Any]) -> dict[str, Any]:
    """{id, name} of a row's project; a deleted project keeps its name, as in Digdag."""
    return {"id": str(row["project_id"]), "name": row.get("project_name") or row.get("project_deleted_name")}


def project(row: dict[str, Any], revision: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"] if row["name"] is not None else row.get("deleted_name"),
        "revision": revision["name"] if revision else None,
        "createdAt": instant(row["created_at"]),
        "updatedAt": instant(row["updated_at"]),
        "deletedAt": instant(row.get("deleted_at")),
        "archiveType": "db",
        "archiveMd5": _md5(revision["archive_md5"]) if revision else None,
    }


def revision(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "revision": row["name"], "createdAt": instant(row["created_at"]), "archiveType": "db",
        "archiveMd5": _md5(row["archive_md5"]), "userInfo": _json(row.get("user_info") or "{}"),
    }


def workflow(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "name": row["name"],
        "project": {"id": str(row["project_id"]), "name": row["project_name"]},
        "revision": row["revision"],
        "timezone": row["timezone"],
        "config": _json(row["config"]),
    }


def attempt(row: dict[str, Any]) -> dict[str, Any]:
    flags = row["state_flags"]
    return {
        "id": str(row["id"]),
        "index": row["attempt_index"],
        "project": _project_ref(row),
        "workflow": {"name": row["workflow_name"],
                     "id": str(row["workflow_definition_id"]) if row["workflow_definition_id"] else None},
        "sessionId": str(row["session_id"]),
        "sessionUuid": row["session_uuid"],
        "sessionTime": session_time(row["session_time"], row["timezone"]),
        "retryAttemptName": row["attempt_name"],
        "done": bool(flags & DONE),
        "success": bool(flags & SUCCESS),
        "cancelRequested": bool(flags & CANCEL_REQUESTED),
        "params": _json(row["params"]),
        "createdAt": instant(row["created_at"]),
        "finishedAt": instant(row["finished_at"]),
        "status": status(flags),
    }


def status(flags: int) -> str:
    """digpy's one-word summary of an attempt (an addition to Digdag's fields)."""
    if flags & DONE:
        if flags & SUCCESS:
            return "success"
        return "killed" if flags & CANCEL_REQUESTED else "error"
    return "killing" if flags & CANCEL_REQUESTED else "running"


def session(row: dict[str, Any], last_attempt: dict[str, Any] | None) -> dict[str, Any]:
    timezone = last_attempt["timezone"] if last_attempt else "UTC"
    out: dict[str, Any] = {
        "id": str(row["id"]),
        "project": _project_ref(row),
        "workflow": {"name": row["workflow_name"],
                     "id": str(last_attempt["workflow_definition_id"]) if last_attempt else None},
        "sessionUuid": row["session_uuid"],
        "sessionTime": session_time(row["session_time"], timezone),
        "lastAttempt": None,
    }
    if last_attempt:
        full = attempt(last_attempt)
        out["lastAttempt"] = {k: full[k] for k in (
            "id", "retryAttemptName", "done", "success", "cancelRequested", "params", "createdAt", "finishedAt",
            "status")}
    return out


def task(row: dict[str, Any]) -> dict[str, Any]:
    """As Digdag's RestTask: `config` is the task's own keys with its `_export` (if any), and
    `exportParams` that `_export` with what the task exported at run time merged onto it."""
    config, export = _json(row["config"]), _json(row["export"])
    return {
        "id": str(row["id"]),
        "fullName": row["full_name"],
        "parentId": str(row["parent_id"]) if row["parent_id"] is not None else None,
        "config": {**config, "_export": export} if export else config,
        "upstreams": [str(u) for u in _json(row["upstreams"])],
        "isGroup": bool(row["is_group"]),
        "state": TaskState(row["state"]).label,
        "cancelRequested": bool(row["flags"] & TaskFlags.CANCEL_REQUESTED),
        "exportParams": deep_merge(export, _json(row["export_params"])),
        "storeParams": _json(row["store_params"]),
        "stateParams": _json(row["state_params"]),
        "updatedAt": instant(row["updated_at"]),
        "retryAt": instant(row["retry_at"]),
        "startedAt": instant(row["started_at"]),
        "error": _json(row["error"]) or {},
    }
