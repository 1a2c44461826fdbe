"""A small client for the digpy (and Digdag) REST API, sync and async, with typed results.

    from digpy.client.http import Client
    client = Client("http://127.0.0.1:65432")
    project = client.push_project("etl", "rev1", archive_bytes)
    attempt = client.start_attempt(workflow_id, "2026-01-01T00:00:00+00:00")

It imports nothing from digpy's engine or server. `AsyncClient` has the same methods as
coroutines (it needs aiohttp).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from digpy.client.errors import ClientError, Unreachable

DEFAULT_ENDPOINT = "http://127.0.0.1:65432"
__all__ = ["AsyncClient", "Attempt", "Client", "ClientError", "LogFile", "Project", "Session", "Task",
           "Unreachable", "Workflow"]


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    revision: str | None
    created_at: str | None
    updated_at: str | None
    archive_md5: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Project:
        return cls(d["id"], d["name"], d.get("revision"), d.get("createdAt"), d.get("updatedAt"), d.get("archiveMd5"))


@dataclass(frozen=True)
class Workflow:
    id: str
    name: str
    project_id: str
    project_name: str
    revision: str
    timezone: str
    config: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, d: dict[str, Any]) -> Workflow:
        return cls(d["id"], d["name"], d["project"]["id"], d["project"]["name"], d["revision"], d["timezone"],
                   d.get("config") or {})


@dataclass(frozen=True)
class Attempt:
    id: str
    project_id: str
    project_name: str
    workflow_name: str
    workflow_id: str | None
    session_id: str
    session_time: str
    retry_attempt_name: str | None
    done: bool
    success: bool
    cancel_requested: bool
    status: str
    params: dict[str, Any]
    created_at: str | None
    finished_at: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Attempt:
        done, success, cancel = d.get("done", False), d.get("success", False), d.get("cancelRequested", False)
        status = d.get("status") or (("success" if success else "killed" if cancel else "error") if done
                                     else "killing" if cancel else "running")
        return cls(d["id"], d["project"]["id"], d["project"].get("name") or "", d["workflow"]["name"],
                   d["workflow"].get("id"), d["sessionId"], d["sessionTime"], d.get("retryAttemptName"), done,
                   success, cancel, status, d.get("params") or {}, d.get("createdAt"), d.get("finishedAt"))


@dataclass(frozen=True)
class Session:
    id: str
    project_name: str
    workflow_name: str
    session_time: str
    last_attempt: dict[str, Any] | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> Session:
        return cls(d["id"], d["project"].get("name") or "", d["workflow"]["name"], d["sessionTime"],
                   d.get("lastAttempt"))


@dataclass(frozen=True)
class Task:
    id: str
    full_name: str
    parent_id: str | None
    state: str
    is_group: bool
    upstreams: list[str]
    started_at: str | None
    updated_at: str | None
    retry_at: str | None
    error: dict[str, Any]
    store_params: dict[str, Any]
    state_params: dict[str, Any]

    @classmethod
    def of(cls, d: dict[str, Any]) -> Task:
        return cls(d["id"], d["fullName"], d.get("parentId"), d["state"], d.get("isGroup", False),
                   d.get("upstreams") or [], d.get("startedAt"), d.get("updatedAt"), d.get("retryAt"),
                   d.get("error") or {}, d.get("storeParams") or {}, d.get("stateParams") or {})


@dataclass(frozen=True)
class LogFile:
    file_name: str
    file_size: int
    task_name: str
    file_time: str | None

    @classmethod
    def of(cls, d: dict[str, Any]) -> LogFile:
        return cls(d["fileName"], int(d.get("fileSize") or 0), d.get("taskName") or "", d.get("fileTime"))


class _Api:
    """Paths and payloads shared by the sync and async clients."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, headers: dict[str, str] | None = None,
                 timeout: float = 60.0) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.timeout = timeout

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        query = {k: ("true" if v is True else "false" if v is False else v)
                 for k, v in (query or {}).items() if v is not None}
        return self.endpoint + path + ("?" + urllib.parse.urlencode(query) if query else "")


class Client(_Api):
    """The synchronous client (stdlib only)."""

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None,
                data: bytes | None = None, content_type: str | None = None, raw: bool = False,
                allow: tuple[int, ...] = ()) -> Any:
        headers = dict(self.headers)
        if body is not None:
            data = json.dumps(body).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.url(path, query), data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
                if raw:
                    return payload, dict(response.headers)
                return json.loads(payload) if payload else None
        except urllib.error.HTTPError as e:
            payload = e.read()
            try:
                parsed = json.loads(payload)
            except ValueError:
                parsed = None
            if e.code in allow:
                return parsed
            message = parsed.get("message") if isinstance(parsed, dict) else payload.decode(errors="replace")[:500]
            raise ClientError(e.code, message or e.reason, parsed) from None
        except urllib.error.URLError as e:
            raise Unreachable(self.endpoint, str(e.reason)) from None
        except (ConnectionError, TimeoutError) as e:
            raise Unreachable(self.endpoint, str(e) or type(e).__name__) from None

    # -- projects and workflows
    def version(self) -> str:
        return str(self.request("GET", "/api/version")["version"])

    def projects(self, name: str | None = None) -> list[Project]:
        return [Project.of(p) for p in self.request("GET", "/api/projects", query={"name": name})["projects"]]

    def project(self, name: str) -> Project:
        found = self.projects(name)
        if not found:
            raise ClientError(404, f"project '{name}' does not exist")
        return found[0]

    def push_project(self, name: str, revision: str, archive: bytes) -> Project:
        return Project.of(self.request("PUT", "/api/projects", query={"project": name, "revision": revision},
                                       data=archive, content_type="application/gzip"))

    def delete_project(self, project_id: str) -> Project:
        return Project.of(self.request("DELETE", f"/api/projects/{project_id}"))

    def archive(self, project_id: str, revision: str | None = None) -> bytes:
        data, _ = self.request("GET", f"/api/projects/{project_id}/archive", query={"revision": revision}, raw=True)
        return bytes(data)

    def workflows(self, project_id: str | None = None, name: str | None = None) -> list[Workflow]:
        path = f"/api/projects/{project_id}/workflows" if project_id else "/api/workflows"
        return [Workflow.of(w) for w in self.request("GET", path, query={"name": name})["workflows"]]

    def workflow(self, project_id: str, name: str, revision: str | None = None) -> Workflow:
        return Workflow.of(self.request("GET", f"/api/projects/{project_id}/workflows/{urllib.parse.quote(name)}",
                                        query={"revision": revision}))

    # -- sessions and attempts
    def sessions(self, project_id: str | None = None, workflow: str | None = None, last_id: str | None = None,
                 page_size: int | None = None) -> list[Session]:
        path = f"/api/projects/{project_id}/sessions" if project_id else "/api/sessions"
        data = self.request("GET", path, query={"workflow": workflow, "last_id": last_id, "page_size": page_size})
        return [Session.of(s) for s in data["sessions"]]

    def session(self, session_id: str) -> Session:
        return Session.of(self.request("GET", f"/api/sessions/{session_id}"))

    def attempts(self, *, session_id: str | None = None, project: str | None = None, workflow: str | None = None,
                 include_retried: bool = False, last_id: str | None = None,
                 page_size: int | None = None) -> list[Attempt]:
        if session_id:
            data = self.request("GET", f"/api/sessions/{session_id}/attempts",
                                query={"last_id": last_id, "page_size": page_size})
        else:
            data = self.request("GET", "/api/attempts", query={
                "project": project, "workflow": workflow, "include_retried": include_retried or None,
                "last_id": last_id, "page_size": page_size})
        return [Attempt.of(a) for a in data["attempts"]]

    def attempt(self, attempt_id: str) -> Attempt:
        return Attempt.of(self.request("GET", f"/api/attempts/{attempt_id}"))

    def start_attempt(self, workflow_id: str, session_time: str, *, params: dict[str, Any] | None = None,
                      retry_attempt_name: str | None = None,
                      resume: dict[str, Any] | None = None) -> tuple[Attempt, bool]:
        """Start an attempt; returns (attempt, created). created is False when the session already
        had an attempt of that name (the server answers 409 with it)."""
        body: dict[str, Any] = {"workflowId": workflow_id, "sessionTime": session_time, "params": params or {}}
        if retry_attempt_name:
            body["retryAttemptName"] = retry_attempt_name
        if resume:
            body["resume"] = resume
        try:
            return Attempt.of(self.request("PUT", "/api/attempts", body=body)), True
        except ClientError as e:
            if e.status == 409 and isinstance(e.body, dict) and "id" in e.body:
                return Attempt.of(e.body), False
            raise

    def kill(self, attempt_id: str) -> Attempt:
        return Attempt.of(self.request("POST", f"/api/attempts/{attempt_id}/kill"))

    def tasks(self, attempt_id: str) -> list[Task]:
        return [Task.of(t) for t in self.request("GET", f"/api/attempts/{attempt_id}/tasks")["tasks"]]

    # -- logs and secrets
    def log_files(self, attempt_id: str, task: str | None = None) -> list[LogFile]:
        data = self.request("GET", f"/api/logs/{attempt_id}/files", query={"task": task})
        return [LogFile.of(f) for f in data["files"]]

    def read_log(self, attempt_id: str, file_name: str, offset: int = 0) -> tuple[str, int]:
        """Text of a log file from `offset` on, and the offset to ask for next."""
        data, headers = self.request("GET", f"/api/logs/{attempt_id}/files/{urllib.parse.quote(file_name)}",
                                     query={"offset": offset}, raw=True)
        next_offset = int(headers.get("X-Digpy-Next-Offset", offset + len(data)))
        return data.decode("utf-8", "replace"), next_offset

    def secret_keys(self, project_id: str) -> list[str]:
        return [s["key"] for s in self.request("GET", f"/api/projects/{project_id}/secrets")["secrets"]]

    def set_secret(self, project_id: str, key: str, value: str) -> None:
        self.request("PUT", f"/api/projects/{project_id}/secrets/{urllib.parse.quote(key)}", body={"value": value})

    def delete_secret(self, project_id: str, key: str) -> None:
        self.request("DELETE", f"/api/projects/{project_id}/secrets/{urllib.parse.quote(key)}")


class AsyncClient(_Api):
    """The asynchronous client (aiohttp), for programs that run on an event loop; results have the
    same types as Client's."""

    async def request(self, method: str, path: str, *, query: dict[str, Any] | None = None,
                      body: Any = None) -> Any:
        import aiohttp

        try:
            async with aiohttp.ClientSession(headers=self.headers) as session, session.request(
                method, self.url(path, query), json=body, timeout=aiohttp.ClientTimeout(total=self.timeout)
            ) as response:
                payload = await response.read()
                parsed = json.loads(payload) if payload else None
                if response.status >= 400:
                    message = parsed.get("message") if isinstance(parsed, dict) else payload.decode()[:500]
                    raise ClientError(response.status, message or response.reason or "", parsed)
                return parsed
        except aiohttp.ClientConnectionError as e:
            raise Unreachable(self.endpoint, str(e)) from None

    async def version(self) -> str:
        return str((await self.request("GET", "/api/version"))["version"])

    async def attempt(self, attempt_id: str) -> Attempt:
        return Attempt.of(await self.request("GET", f"/api/attempts/{attempt_id}"))

    async def attempts(self, **query: Any) -> list[Attempt]:
        return [Attempt.of(a) for a in (await self.request("GET", "/api/attempts", query=query))["attempts"]]

    async def tasks(self, attempt_id: str) -> list[Task]:
        return [Task.of(t) for t in (await self.request("GET", f"/api/attempts/{attempt_id}/tasks"))["tasks"]]

    async def start_attempt(self, workflow_id: str, session_time: str, *,
                            params: dict[str, Any] | None = None) -> Attempt:
        body = {"workflowId": workflow_id, "sessionTime": session_time, "params": params or {}}
        return Attempt.of(await self.request("PUT", "/api/attempts", body=body))

    async def kill(self, attempt_id: str) -> Attempt:
        return Attempt.of(await self.request("POST", f"/api/attempts/{attempt_id}/kill"))
