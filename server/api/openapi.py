"""The OpenAPI 3.1 document of the REST API. The routes are listed here (a test keeps the list in step
with the handlers); every answer's schema is generated from the REST model (digpy.client.model): its
keys, their JSON types, nested objects and arrays. Every key is required, as the server always sends
every key; a field that may be null is typed `[T, "null"]`, and a field Digdag does not send says so."""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any, Final, Literal

from digpy import __version__
from digpy.client.model import (
    Attempt,
    Backfill,
    Error,
    JsonField,
    LogFile,
    Project,
    ProjectSecret,
    Resource,
    Revision,
    Schedule,
    ScheduleSummary,
    SecretKey,
    Session,
    SessionInfo,
    Task,
    TruncatedSessionTime,
    Version,
    VersionCheck,
    Workflow,
    WorkflowTask,
)
from digpy.core.store.catalog import STATUS_FLAGS


@dataclass(frozen=True)
class Many:
    """An answer that lists resources: {"<collection>": [...]}."""

    of: type[Resource]


BINARY: Final = "binary"  # a file (an archive, a log)
DOCUMENT: Final = "document"  # this document
EVENTS: Final = "events"  # server-sent events (text/event-stream): the summary names the events, whose data is JSON

Answer = type[Resource] | Many | Literal["binary", "document", "events"]
Schema = dict[str, Any]
_LARGEST = 10**18 - 1  # numbers of up to 18 digits (digpy.server.api.params)
_ID: Schema = {"type": "string", "pattern": "^[0-9]{1,18}$"}
_NUMBER: Schema = {"type": "integer", "minimum": -_LARGEST, "maximum": _LARGEST}
_OFFSET: Schema = {"type": "integer", "minimum": 0, "maximum": _LARGEST}
_AT_MOST: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}
_NAME: Schema = {"type": "string", "pattern": r"^[^/\\\x00-\x1f]{1,255}$"}
_TIME: Schema = {"type": "string", "format": "date-time"}
_PAGE: list[tuple[str, str | Schema, str]] = [
    ("last_id", _NUMBER, "return items with ids before (sessions, attempts) or after this one"),
    ("page_size", _AT_MOST, "at most this many items (default 100, max 1000)")]
_SECRET_KEY: Schema = {"type": "string", "maxLength": 255, "pattern": r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$"}
_PATH_PARAMETERS: dict[str, Schema] = {"id": _ID, "key": _SECRET_KEY}
# Query parameters without which a route answers 400: (path, name).
_REQUIRED = {("/api/projects", "project"), ("/api/projects", "revision"),
             ("/api/workflows/{id}/truncated_session_time", "session_time")}


def _body(properties: dict[str, Schema], *required: str) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required)}


_FLAG: Schema = {"type": "boolean"}
_ID_OR_NUMBER: Schema = {"anyOf": [_ID, {"type": "integer", "minimum": 0, "maximum": _LARGEST}]}
_WHOLE: Schema = {"type": ["integer", "null"], "minimum": 1}  # null: as if not given
_OPTIONAL_TIME: Schema = {"anyOf": [_TIME, {"type": "null"}]}
_ATTEMPT_BODY = _body({
    "workflowId": _ID_OR_NUMBER,
    "sessionTime": _TIME, "params": {"type": ["object", "null"]},
    "retryAttemptName": {"type": ["string", "null"]}, "bypassQueue": _FLAG,
    "resume": {"anyOf": [{"type": "null"}, {"type": "object", "maxProperties": 0}, _body({"mode": {"enum": ["failed"]}, "attemptId": _ID_OR_NUMBER}, "mode", "attemptId"),
                         _body({"mode": {"enum": ["from"]}, "attemptId": _ID_OR_NUMBER, "from": {"type": "string"}},
                               "mode", "attemptId", "from")]},
}, "workflowId", "sessionTime")
_SKIP_BODY: Schema = {"anyOf": [
    _body({"nextTime": {"anyOf": [_TIME, {"enum": ["now"]}]}, "nextRunTime": _OPTIONAL_TIME, "dryRun": _FLAG},
          "nextTime"),
    _body({"count": {"type": "integer", "minimum": 1}, "fromTime": _OPTIONAL_TIME, "nextRunTime": _OPTIONAL_TIME,
           "dryRun": _FLAG}, "count"),
]}
_BACKFILL_BODY = _body({"fromTime": _TIME, "attemptName": {"type": "string", "minLength": 1}, "count": _WHOLE,
                        "parallel": _WHOLE, "dryRun": _FLAG}, "fromTime", "attemptName")
_ENABLE_BODY = _body({"catchUp": _FLAG, "skipSchedule": {}})
_SECRET_BODY = _body({"value": {"type": "string"}}, "value")

# (method, path, summary, query parameters (name, JSON type or schema, description), request body
# (a JSON schema, or "application/gzip"), the answer)
ENDPOINTS: list[tuple[str, str, str, list[tuple[str, str | Schema, str]], Schema | str | None, Answer]] = [
    ("get", "/api/version", "Server version", [], None, Version),
    ("get", "/api/version/check", "Client/server compatibility", [("client", "string", "client version")], None, VersionCheck),
    ("get", "/api/openapi.json", "This document", [], None, DOCUMENT),
    ("get", "/api/session", "Who the caller is and whether the server asks for a token (digpy)", [], None, SessionInfo),
    ("post", "/api/session", "Log in (digpy, the web UI): {token} exchanged for an HttpOnly, SameSite=Strict "
     "session cookie", [], _body({"token": {"type": "string", "pattern": "\\S"}}, "token"), SessionInfo),
    ("delete", "/api/session", "Log out (digpy): the session cookie is removed", [], None, SessionInfo),
    ("get", "/api/projects", "List projects", [("name", "string", "exact name"), ("name_pattern", "string", "substring"),
                                               ("last_id", _NUMBER, "after this id"), ("count", _AT_MOST, "at most")],
     None, Many(Project)),
    ("put", "/api/projects", "Push a project revision (tar.gz body)",
     [("project", _NAME, "project name"), ("revision", _NAME, "revision name")], "application/gzip", Project),
    ("get", "/api/projects/{id}", "Get a project", [], None, Project),
    ("delete", "/api/projects/{id}", "Delete a project (sessions are kept)", [], None, Project),
    ("get", "/api/projects/{id}/revisions", "List revisions, newest first", [("name", "string", "one revision")], None,
     Many(Revision)),
    ("get", "/api/projects/{id}/archive", "Download a revision's archive",
     [("revision", "string", "revision name (default: latest)")], None, BINARY),
    ("get", "/api/projects/{id}/workflows", "Workflows of a revision",
     [("revision", "string", "default: latest"), ("name", "string", "one workflow")], None, Many(Workflow)),
    ("get", "/api/projects/{id}/workflows/{name}", "One workflow of a revision", [("revision", "string", "default: latest")],
     None, Workflow),
    ("get", "/api/projects/{id}/sessions", "Sessions of a project", [("workflow", "string", "one workflow"), *_PAGE],
     None, Many(Session)),
    ("get", "/api/projects/{id}/secrets", "Secret keys of a project (never values)", [], None, Many(SecretKey)),
    ("put", "/api/projects/{id}/secrets/{key}", "Set a secret", [], _SECRET_BODY, ProjectSecret),
    ("delete", "/api/projects/{id}/secrets/{key}", "Delete a secret", [], None, ProjectSecret),
    ("get", "/api/workflows", "Latest workflows of every project",
     [("last_id", _NUMBER, "after this id"), ("count", _AT_MOST, "at most"), ("name_pattern", "string", "substring"),
      ("order", {"enum": ["asc", "desc"]}, "asc (default) or desc, by id"),
      ("search_project_name", "boolean", "name_pattern matches project names too")],
     None, Many(Workflow)),
    ("get", "/api/workflows/{id}", "A workflow definition", [], None, Workflow),
    ("get", "/api/schedules", "Schedules of every project, by id",
     [("last_id", _NUMBER, "after this id"), ("count", _AT_MOST, "at most this many (default 100, max 1000)")],
     None, Many(Schedule)),
    ("get", "/api/projects/{id}/schedules", "Schedules of a project",
     [("workflow", "string", "one workflow"), ("last_id", _NUMBER, "after this id"),
      ("count", _AT_MOST, "at most this many (default 100, max 1000)")], None, Many(Schedule)),
    ("get", "/api/schedules/{id}", "A schedule", [], None, Schedule),
    ("post", "/api/schedules/{id}/skip",
     "Move a schedule on: {nextTime} (a time, or \"now\") or {count, fromTime?}; nextRunTime?, dryRun?", [],
     _SKIP_BODY, ScheduleSummary),
    ("post", "/api/schedules/{id}/backfill",
     "Start past slots: {fromTime, attemptName, count?, parallel? (default 1: one at a time), dryRun?}", [],
     _BACKFILL_BODY, Backfill),
    ("post", "/api/schedules/{id}/enable",
     "Enable a schedule from now on ({catchUp: true}: from where it stopped)", [], _ENABLE_BODY,
     ScheduleSummary),
    ("post", "/api/schedules/{id}/disable", "Disable a schedule", [], None, ScheduleSummary),
    ("get", "/api/workflows/{id}/tasks", "The tasks of a workflow definition, compiled (digpy)", [], None,
     Many(WorkflowTask)),
    ("get", "/api/workflows/{id}/truncated_session_time", "A session time truncated in the workflow's zone",
     [("session_time", _TIME, "an instant with an offset (RFC 3339), or a local time "
                     "such as 2026-01-31 10:20:30"),
      ("mode", {"enum": ["second", "minute", "hour", "day", "schedule", "next_schedule"]}, "second (default), minute, hour, day, schedule, next_schedule")], None, TruncatedSessionTime),
    ("get", "/api/sessions", "Sessions, newest first", _PAGE, None, Many(Session)),
    ("get", "/api/sessions/{id}", "A session with its last attempt", [], None, Session),
    ("get", "/api/sessions/{id}/attempts", "Every attempt of a session", _PAGE, None, Many(Attempt)),
    ("get", "/api/attempts", "Attempts, newest first",
     [("project", "string", "project name"), ("workflow", "string", "workflow name"),
      ("include_retried", "boolean", "all attempts, not only each session's last"),
      ("status", {"enum": ["", *STATUS_FLAGS]}, "queued, running, killing, success, error or killed (digpy)"), *_PAGE], None,
     Many(Attempt)),
    ("put", "/api/attempts", "Start an attempt (409 with the existing one if the session and name exist); "
     "digpy's bypassQueue: true starts it at once instead of waiting in its workflow's queue", [],
     _ATTEMPT_BODY, Attempt),
    ("get", "/api/attempts/{id}", "An attempt", [], None, Attempt),
    ("get", "/api/attempts/{id}/retries", "Every attempt of the attempt's session, oldest first", [], None, Many(Attempt)),
    ("get", "/api/attempts/{id}/tasks", "Tasks of an attempt", [], None, Many(Task)),
    ("get", "/api/attempts/{id}/requires", "The attempts this attempt's require> tasks started or waited for (digpy)",
     [], None, Many(Attempt)),
    ("get", "/api/attempts/{id}/required_by", "The attempts whose require> tasks started or waited for this one "
     "(digpy)", [], None, Many(Attempt)),
    ("get", "/api/attempts/{id}/events", "Server-sent events of an attempt, live (digpy): `attempt` (an Attempt, "
     "first and when it changes), `snapshot` ({tasks: [Task]}, every task, once), `tasks` ({tasks: [Task]}, those "
     "that changed), `end` (the attempt is done)", [], None, EVENTS),
    ("get", "/api/events", "Server-sent events of every attempt (digpy): `ready`, then `attempts` ({attempts: "
     "[Attempt]}, those that started, were killed or ended)", [], None, EVENTS),
    ("post", "/api/attempts/{id}/kill", "Kill an attempt: running commands are stopped (a queued one ends at once)",
     [], None, Attempt),
    ("get", "/api/logs/{id}/files", "Task log files of an attempt", [("task", "string", "task name prefix")], None,
     Many(LogFile)),
    ("get", "/api/logs/{id}/files/{name}", "A task log: gzip, or plain text from `offset` (digpy)",
     [("offset", _OFFSET, "return the plain text from this byte; header X-Digpy-Next-Offset")], None, BINARY),
    ("get", "/api/logs/{id}/files/{name}/events", "Server-sent events of a task log as it grows (digpy): `text` "
     "({text, offset: the byte after it}), `end` ({offset}: the attempt is done and the file was sent)",
     [("offset", _OFFSET, "start at this byte (default 0)")], None, EVENTS),
]


# Answers other than 200 that are not errors: (method, path) → {status: (resource, description)}.
OTHER_ANSWERS: dict[tuple[str, str], dict[str, tuple[type[Resource], str]]] = {
    ("put", "/api/attempts"): {"409": (Attempt, "the session already has an attempt of that name: that attempt")},
}
_SCALARS = {str: "string", int: "integer", bool: "boolean", float: "number"}
_DIGPY_ONLY = "digpy's addition: Digdag servers do not send it"


_SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "an API token from `digpy token create`"},
    "session": {"type": "apiKey", "in": "cookie", "name": "digpy_session",
                "description": "the web UI's session cookie (POST /api/session); its mutating requests must "
                               "come from the server's own origin"},
}


def _roles() -> dict[tuple[str, str], str]:
    """The role each route needs (`public`: none), from the handlers' declarations."""
    from digpy.server.app import api_modules
    from digpy.server.security import PUBLIC, permission_of

    roles: dict[tuple[str, str], str] = {}
    for module in api_modules():
        for route in module.routes:
            permission = permission_of(route.handler)
            if permission is not None:
                roles[(route.method.lower(), route.path)] = (
                    "public" if permission.scope == PUBLIC else permission.role)
    return roles


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    roles = _roles()
    for method, path, summary, query, body, answer in ENDPOINTS:
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": _PATH_PARAMETERS.get(name, {"type": "string"})} for name in _path_names(path)]
        parameters += [{"name": n, "in": "query", "required": (path, n) in _REQUIRED,
                        "schema": {"type": t} if isinstance(t, str) else t, "description": d} for n, t, d in query]
        responses = {"200": _response(answer, schemas)}
        for status, (resource, description) in OTHER_ANSWERS.get((method, path), {}).items():
            responses[status] = _json_response(description, _reference(resource, schemas))
        responses["default"] = _json_response("an error", _reference(Error, schemas))
        operation: dict[str, Any] = {"summary": summary, "parameters": parameters, "responses": responses}
        role = roles.get((method, path), "admin")
        operation["x-digpy-role"] = role  # read < run < write < admin of the project; public: no token
        if role == "public":
            operation["security"] = [{}]
        if body == "application/gzip":
            operation["requestBody"] = {"required": True, "content": {body: {"schema": {"type": "string",
                                                                                        "format": "binary"}}}}
        elif isinstance(body, dict):
            operation["requestBody"] = {"required": body.get("required") != [],  # optional when it may be {}
                                        "content": {"application/json": {"schema": body}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "digpy server API", "version": __version__,
                 "description": "Digdag's REST paths and JSON shapes (camelCase, ids as strings), plus digpy's additions."},
        "paths": paths,
        # A token is needed once the server has one (or runs with --auth required); on loopback with
        # none, no token: hence the empty alternative.
        "security": [{"bearer": []}, {"session": []}, {}],
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": _SECURITY},
    }


def schema_of(resource: type[Resource], schemas: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of a resource of the model (nested resources go into `schemas`)."""
    root = _object()
    doc = resource.__doc__ or ""
    if doc and not doc.startswith(resource.__name__ + "("):  # not the signature dataclass writes
        root["description"] = " ".join(doc.split())
    for f in resource.json_fields():
        target = root
        for part in f.path[:-1]:
            if part not in target["properties"]:
                target["properties"][part] = _object()
                target["required"].append(part)
            target = target["properties"][part]
        target["properties"][f.path[-1]] = _field_schema(f, schemas)
        target["required"].append(f.path[-1])
    return root


def _object() -> dict[str, Any]:
    return {"type": "object", "properties": {}, "required": []}


def _field_schema(f: JsonField, schemas: dict[str, Any]) -> dict[str, Any]:
    schema = _type_schema(f.hint, schemas)
    return {**schema, "description": _DIGPY_ONLY} if f.digpy else schema


def _type_schema(hint: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    if hint is Any:
        return {}
    if isinstance(hint, type) and issubclass(hint, Resource):
        return _reference(hint, schemas)
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return {"type": "string", "enum": list(args)}
    if origin is dict:
        return {"type": "object"}
    if origin is list:
        return {"type": "array", "items": _type_schema(args[0], schemas)}
    if isinstance(hint, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        schema = _type_schema(inner, schemas)
        if isinstance(schema.get("type"), str):
            return {**schema, "type": [schema["type"], "null"]}
        return {"anyOf": [schema, {"type": "null"}]}
    raise TypeError(f"no JSON schema for {hint!r}: add it to digpy.server.api.openapi")


def _reference(resource: type[Resource], schemas: dict[str, Any]) -> dict[str, Any]:
    if resource.__name__ not in schemas:
        schemas[resource.__name__] = {}  # first, so that a resource may refer to itself
        schemas[resource.__name__] = schema_of(resource, schemas)
    return {"$ref": f"#/components/schemas/{resource.__name__}"}


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _response(answer: Answer, schemas: dict[str, Any]) -> dict[str, Any]:
    if answer == BINARY:
        return {"description": "the file: gzip, or plain text (a log from an offset)", "content": {
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}}}}
    if answer == DOCUMENT:
        return _json_response("this document", {"type": "object"})
    if answer == EVENTS:
        return {"description": "a stream of server-sent events", "content": {"text/event-stream": {"schema": {
            "type": "string"}}}}
    if isinstance(answer, Many):
        items = {"type": "array", "items": _reference(answer.of, schemas)}
        return _json_response("OK", {"type": "object", "required": [answer.of.collection],
                                     "properties": {answer.of.collection: items}})
    assert isinstance(answer, type)
    return _json_response("OK", _reference(answer, schemas))
