"""The OpenAPI 3.1 document of the REST API (a test keeps it in step with the routes)."""

from __future__ import annotations

from typing import Any

from digpy import __version__

_ID = {"type": "string", "pattern": "^[0-9]+$"}
_PAGE = [("last_id", "integer", "return items with ids before (sessions, attempts) or after this one"),
         ("page_size", "integer", "at most this many items (default 100, max 1000)")]

# (method, path, summary, query parameters, request body, response object key or "object")
ENDPOINTS: list[tuple[str, str, str, list[tuple[str, str, str]], str | None, str]] = [
    ("get", "/api/version", "Server version", [], None, "object"),
    ("get", "/api/version/check", "Client/server compatibility", [("client", "string", "client version")], None, "object"),
    ("get", "/api/openapi.json", "This document", [], None, "object"),
    ("get", "/api/projects", "List projects", [("name", "string", "exact name"), ("name_pattern", "string", "substring"),
                                               ("last_id", "integer", "after this id"), ("count", "integer", "at most")],
     None, "projects"),
    ("put", "/api/projects", "Push a project revision (tar.gz body)",
     [("project", "string", "project name"), ("revision", "string", "revision name")], "application/gzip", "object"),
    ("get", "/api/projects/{id}", "Get a project", [], None, "object"),
    ("delete", "/api/projects/{id}", "Delete a project (sessions are kept)", [], None, "object"),
    ("get", "/api/projects/{id}/revisions", "List revisions, newest first", [("name", "string", "one revision")], None,
     "revisions"),
    ("get", "/api/projects/{id}/archive", "Download a revision's archive",
     [("revision", "string", "revision name (default: latest)")], None, "binary"),
    ("get", "/api/projects/{id}/workflows", "Workflows of a revision",
     [("revision", "string", "default: latest"), ("name", "string", "one workflow")], None, "workflows"),
    ("get", "/api/projects/{id}/workflows/{name}", "One workflow of a revision", [("revision", "string", "default: latest")],
     None, "object"),
    ("get", "/api/projects/{id}/sessions", "Sessions of a project", [("workflow", "string", "one workflow"), *_PAGE],
     None, "sessions"),
    ("get", "/api/projects/{id}/secrets", "Secret keys of a project (never values)", [], None, "secrets"),
    ("put", "/api/projects/{id}/secrets/{key}", "Set a secret", [], "application/json", "object"),
    ("delete", "/api/projects/{id}/secrets/{key}", "Delete a secret", [], None, "object"),
    ("get", "/api/workflows", "Latest workflows of every project",
     [("last_id", "integer", "after this id"), ("count", "integer", "at most"), ("name_pattern", "string", "substring"),
      ("order", "string", "asc (default) or desc, by id"),
      ("search_project_name", "boolean", "name_pattern matches project names too")],
     None, "workflows"),
    ("get", "/api/workflows/{id}", "A workflow definition", [], None, "object"),
    ("get", "/api/workflows/{id}/truncated_session_time", "A session time truncated in the workflow's zone",
     [("session_time", "string", "local (2026-01-31 10:20:30) or an instant with an offset"),
      ("mode", "string", "second (default), minute, hour, day, schedule, next_schedule")], None, "object"),
    ("get", "/api/sessions", "Sessions, newest first", _PAGE, None, "sessions"),
    ("get", "/api/sessions/{id}", "A session with its last attempt", [], None, "object"),
    ("get", "/api/sessions/{id}/attempts", "Every attempt of a session", _PAGE, None, "attempts"),
    ("get", "/api/attempts", "Attempts, newest first",
     [("project", "string", "project name"), ("workflow", "string", "workflow name"),
      ("include_retried", "boolean", "all attempts, not only each session's last"), *_PAGE], None, "attempts"),
    ("put", "/api/attempts", "Start an attempt (409 with the existing one if the session and name exist)", [],
     "application/json", "object"),
    ("get", "/api/attempts/{id}", "An attempt", [], None, "object"),
    ("get", "/api/attempts/{id}/retries", "Every attempt of the attempt's session, oldest first", [], None, "attempts"),
    ("get", "/api/attempts/{id}/tasks", "Tasks of an attempt", [], None, "tasks"),
    ("post", "/api/attempts/{id}/kill", "Kill an attempt: running commands are stopped", [], None, "object"),
    ("get", "/api/logs/{id}/files", "Task log files of an attempt", [("task", "string", "task name prefix")], None,
     "files"),
    ("get", "/api/logs/{id}/files/{name}", "A task log: gzip, or plain text from `offset` (digpy)",
     [("offset", "integer", "return the plain text from this byte; header X-Digpy-Next-Offset")], None, "binary"),
]


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for method, path, summary, query, body, result in ENDPOINTS:
        parameters = [{"name": name, "in": "path", "required": True, "schema": _ID if name == "id" else {"type": "string"}}
                      for name in _path_names(path)]
        parameters += [{"name": n, "in": "query", "required": False, "schema": {"type": t}, "description": d}
                       for n, t, d in query]
        operation: dict[str, Any] = {"summary": summary, "parameters": parameters, "responses": {
            "200": _response(result),
            "default": {"description": "an error", "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Error"}}}},
        }}
        if body:
            schema = {"type": "string", "format": "binary"} if body == "application/gzip" else {"type": "object"}
            operation["requestBody"] = {"required": True, "content": {body: {"schema": schema}}}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "digpy server API", "version": __version__,
                 "description": "Digdag's REST paths and JSON shapes (camelCase, ids as strings), plus digpy's additions."},
        "paths": paths,
        "components": {"schemas": {"Error": {"type": "object", "required": ["message", "status"], "properties": {
            "message": {"type": "string"}, "status": {"type": "integer"}}}}},
    }


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _response(result: str) -> dict[str, Any]:
    if result == "binary":
        return {"description": "the file", "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                             "format": "binary"}}}}
    schema: dict[str, Any] = {"type": "object"}
    if result != "object":
        schema = {"type": "object", "required": [result], "properties": {result: {"type": "array",
                                                                                   "items": {"type": "object"}}}}
    return {"description": "OK", "content": {"application/json": {"schema": schema}}}
