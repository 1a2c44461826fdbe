"""A small client for the digpy (and Digdag) REST API, sync and async, with typed results.

    from digpy.client.http import Client
    client = Client("http://127.0.0.1:65432")
    project = client.push_project("etl", "rev1", archive_bytes)
    attempt = client.start_attempt(workflow_id, "2026-01-01T00:00:00+00:00")

It imports nothing from digpy's engine or server. `AsyncClient` has the same methods as
coroutines (it needs aiohttp). The results are the REST model's classes (digpy.client.model),
re-exported here.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from digpy.client.errors import ClientError, Unreachable
from digpy.client.model import (
    Attempt,
    Backfill,
    LogFile,
    Project,
    Schedule,
    ScheduleSummary,
    SecretKey,
    Session,
    Task,
    Version,
    Workflow,
)

DEFAULT_ENDPOINT = "http://127.0.0.1:65432"
__all__ = ["AsyncClient", "Attempt", "Client", "ClientError", "LogFile", "Project", "Session", "Task",
           "Unreachable", "Workflow"]


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
        return Version.from_json(self.request("GET", "/api/version")).version

    def projects(self, name: str | None = None) -> list[Project]:
        return Project.list_from_json(self.request("GET", "/api/projects", query={"name": name}))

    def project(self, name: str) -> Project:
        found = self.projects(name)
        if not found:
            raise ClientError(404, f"project '{name}' does not exist")
        return found[0]

    def push_project(self, name: str, revision: str, archive: bytes) -> Project:
        return Project.from_json(self.request("PUT", "/api/projects", query={"project": name, "revision": revision},
                                       data=archive, content_type="application/gzip"))

    def delete_project(self, project_id: str) -> Project:
        return Project.from_json(self.request("DELETE", f"/api/projects/{project_id}"))

    def archive(self, project_id: str, revision: str | None = None) -> bytes:
        data, _ = self.request("GET", f"/api/projects/{project_id}/archive", query={"revision": revision}, raw=True)
        return bytes(data)

    def workflows(self, project_id: str | None = None, name: str | None = None) -> list[Workflow]:
        path = f"/api/projects/{project_id}/workflows" if project_id else "/api/workflows"
        return Workflow.list_from_json(self.request("GET", path, query={"name": name}))

    def workflow(self, project_id: str, name: str, revision: str | None = None) -> Workflow:
        return Workflow.from_json(self.request("GET", f"/api/projects/{project_id}/workflows/{urllib.parse.quote(name)}",
                                        query={"revision": revision}))

    # -- sessions and attempts
    def sessions(self, project_id: str | None = None, workflow: str | None = None, last_id: str | None = None,
                 page_size: int | None = None) -> list[Session]:
        path = f"/api/projects/{project_id}/sessions" if project_id else "/api/sessions"
        data = self.request("GET", path, query={"workflow": workflow, "last_id": last_id, "page_size": page_size})
        return Session.list_from_json(data)

    def session(self, session_id: str) -> Session:
        return Session.from_json(self.request("GET", f"/api/sessions/{session_id}"))

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
        return Attempt.list_from_json(data)

    def attempt(self, attempt_id: str) -> Attempt:
        return Attempt.from_json(self.request("GET", f"/api/attempts/{attempt_id}"))

    def start_attempt(self, workflow_id: str, session_time: str, *, params: dict[str, Any] | None = None,
                      retry_attempt_name: str | None = None, resume: dict[str, Any] | None = None,
                      bypass_queue: bool = False) -> tuple[Attempt, bool]:
        """Start an attempt; returns (attempt, created). created is False when the session already
        had an attempt of that name (the server answers 409 with it). `bypass_queue` (digpy's): it
        starts at once instead of waiting in its workflow's queue."""
        body: dict[str, Any] = {"workflowId": workflow_id, "sessionTime": session_time, "params": params or {}}
        if retry_attempt_name:
            body["retryAttemptName"] = retry_attempt_name
        if resume:
            body["resume"] = resume
        if bypass_queue:
            body["bypassQueue"] = True
        try:
            return Attempt.from_json(self.request("PUT", "/api/attempts", body=body)), True
        except ClientError as e:
            if e.status == 409 and isinstance(e.body, dict) and "id" in e.body:
                return Attempt.from_json(e.body), False
            raise

    def kill(self, attempt_id: str) -> Attempt:
        return Attempt.from_json(self.request("POST", f"/api/attempts/{attempt_id}/kill"))

    def tasks(self, attempt_id: str) -> list[Task]:
        return Task.list_from_json(self.request("GET", f"/api/attempts/{attempt_id}/tasks"))

    # -- schedules
    def schedules(self, project_id: str | None = None, workflow: str | None = None) -> list[Schedule]:
        """Every schedule (of a project, of one of its workflows), by id."""
        path = f"/api/projects/{project_id}/schedules" if project_id else "/api/schedules"
        found: list[Schedule] = []
        last_id: str | None = None
        while True:  # pages of 100
            page = Schedule.list_from_json(self.request("GET", path, query={"workflow": workflow, "last_id": last_id}))
            found += page
            if len(page) < 100:
                return found
            last_id = page[-1].id

    def schedule(self, schedule_id: str) -> Schedule:
        return Schedule.from_json(self.request("GET", f"/api/schedules/{schedule_id}"))

    def skip_schedule(self, schedule_id: str, *, next_time: str | None = None, count: int | None = None,
                      from_time: str | None = None, next_run_time: str | None = None,
                      dry_run: bool = False) -> ScheduleSummary:
        body = {k: v for k, v in {"nextTime": next_time, "count": count, "fromTime": from_time,
                                  "nextRunTime": next_run_time, "dryRun": dry_run}.items() if v is not None}
        return ScheduleSummary.from_json(self.request("POST", f"/api/schedules/{schedule_id}/skip", body=body))

    def backfill(self, schedule_id: str, *, from_time: str, attempt_name: str, count: int | None = None,
                 parallel: int | None = None, dry_run: bool = False) -> Backfill:
        body = {k: v for k, v in {"fromTime": from_time, "attemptName": attempt_name, "count": count,
                                  "parallel": parallel, "dryRun": dry_run}.items() if v is not None}
        return Backfill.from_json(self.request("POST", f"/api/schedules/{schedule_id}/backfill", body=body))

    def enable_schedule(self, schedule_id: str, *, catch_up: bool = False) -> ScheduleSummary:
        return ScheduleSummary.from_json(self.request("POST", f"/api/schedules/{schedule_id}/enable",
                                                      body={"catchUp": catch_up}))

    def disable_schedule(self, schedule_id: str) -> ScheduleSummary:
        return ScheduleSummary.from_json(self.request("POST", f"/api/schedules/{schedule_id}/disable"))

    # -- logs and secrets
    def log_files(self, attempt_id: str, task: str | None = None) -> list[LogFile]:
        data = self.request("GET", f"/api/logs/{attempt_id}/files", query={"task": task})
        return LogFile.list_from_json(data)

    def read_log(self, attempt_id: str, file_name: str, offset: int = 0) -> tuple[str, int]:
        """Text of a log file from `offset` on, and the offset to ask for next."""
        data, headers = self.request("GET", f"/api/logs/{attempt_id}/files/{urllib.parse.quote(file_name)}",
                                     query={"offset": offset}, raw=True)
        next_offset = int(headers.get("X-Digpy-Next-Offset", offset + len(data)))
        return data.decode("utf-8", "replace"), next_offset

    def secret_keys(self, project_id: str) -> list[str]:
        return [s.key for s in SecretKey.list_from_json(self.request("GET", f"/api/projects/{project_id}/secrets"))]

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
        return Version.from_json(await self.request("GET", "/api/version")).version

    async def attempt(self, attempt_id: str) -> Attempt:
        return Attempt.from_json(await self.request("GET", f"/api/attempts/{attempt_id}"))

    async def attempts(self, **query: Any) -> list[Attempt]:
        return Attempt.list_from_json(await self.request("GET", "/api/attempts", query=query))

    async def tasks(self, attempt_id: str) -> list[Task]:
        return Task.list_from_json(await self.request("GET", f"/api/attempts/{attempt_id}/tasks"))

    async def start_attempt(self, workflow_id: str, session_time: str, *,
                            params: dict[str, Any] | None = None) -> Attempt:
        body = {"workflowId": workflow_id, "sessionTime": session_time, "params": params or {}}
        return Attempt.from_json(await self.request("PUT", "/api/attempts", body=body))

    async def kill(self, attempt_id: str) -> Attempt:
        return Attempt.from_json(await self.request("POST", f"/api/attempts/{attempt_id}/kill"))
