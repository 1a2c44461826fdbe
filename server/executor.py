"""The attempt executor: claims unfinished attempts, runs them with the same engine as local runs.

A node owns an attempt through a lease (owner, expiry) on its row: it claims free or expired
attempts, renews its leases every few seconds, and gives them back when it stops. A node that
dies stops renewing, and another node takes its attempts over once the lease expires (seconds,
not Digdag's five minutes); tasks that were running run again (at-least-once), tasks that
succeeded are never run again because their state is in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from digpy.core.engine.runner import AttemptRunner, RunSettings
from digpy.core.errors import ConfigError, DigpyError, UnknownOperator
from digpy.core.language.builtins import format_session_time, session_variables
from digpy.core.language.dig.compiler import compile_workflow
from digpy.core.language.expression import TemplateEngine
from digpy.core.plugin_manager import Registry
from digpy.core.schedule import parse_schedule
from digpy.core.spi import AttemptStatus, FailedAttempt
from digpy.core.store import CANCEL_REQUESTED, DONE, SUCCESS, catalog
from digpy.core.store.sql import SessionRecord, Store
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.resume import ResumePlan, forced_tasks
from digpy.core.workflow.state_machine import AttemptGraph
from digpy.server.archive import read_archive, unpack
from digpy.server.logs import LogStore, TaskLogWriter
from digpy.server.plugins import unknown_operator
from digpy.server.secrets import ProjectSecretProvider, SecretBox

log = logging.getLogger("digpy.server.executor")
LEASE_SECONDS = 15.0
RENEW_SECONDS = 5.0
IDLE_SECONDS = 1.0


@dataclass
class ExecutorSettings:
    data_dir: Path
    max_tasks: int = 32
    max_attempts: int = 100
    node_id: str = ""


class Executor:
    """Runs the attempts this node holds; woken early when an attempt is started or killed here."""

    def __init__(self, store: Store, registry: Registry, logs: LogStore, box: SecretBox,
                 settings: ExecutorSettings) -> None:
        self.store = store
        self.registry = registry
        self.logs = logs
        self.box = box
        self.settings = settings
        self.owner = settings.node_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.templates = TemplateEngine()
        self.jobs: dict[int, asyncio.Task[None]] = {}
        self.runners: dict[int, AttemptRunner] = {}
        self._checkouts: dict[int, Path] = {}  # revision id -> its files (ids of this database)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        last_renew = 0.0
        while not self._stopping:
            now = time.monotonic()
            with self.store.conn.begin():
                if now - last_renew >= RENEW_SECONDS:
                    held = catalog.renew_leases(self.store.conn, owner=self.owner, attempt_ids=list(self.jobs),
                                                lease_seconds=LEASE_SECONDS)
                    for lost in set(self.jobs) - set(held):
                        log.error("lease of attempt %d was taken by another node; stopping it here", lost)
                        self._abort(lost)
                    last_renew = now
                for attempt_id in catalog.cancel_requested(self.store.conn, list(self.runners)):
                    self.runners[attempt_id].request_cancel()
                free = self.settings.max_attempts - len(self.jobs)
                claimed = catalog.claim_attempts(self.store.conn, owner=self.owner, lease_seconds=LEASE_SECONDS,
                                                 limit=free, exclude=list(self.jobs)) if free > 0 else []
            for attempt_id in claimed:
                self.jobs[attempt_id] = asyncio.ensure_future(self._run_attempt(attempt_id))
                self.jobs[attempt_id].add_done_callback(lambda _t, a=attempt_id: self._done(a))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
            self._wake.clear()

    def _done(self, attempt_id: int) -> None:
        self.jobs.pop(attempt_id, None)
        self.runners.pop(attempt_id, None)
        self._wake.set()

    def _abort(self, attempt_id: int) -> None:
        runner = self.runners.get(attempt_id)
        if runner is not None:
            runner.abort()
        job = self.jobs.get(attempt_id)
        if job is not None:
            job.cancel()

    async def stop(self) -> None:
        """Stop claiming; stop the running commands and give the attempts back (not canceled)."""
        self._stopping = True
        self._wake.set()
        operators = [h for runner in self.runners.values() for h in runner.running.values()]
        for attempt_id in list(self.jobs):
            self._abort(attempt_id)
        if self.jobs or operators:  # the operators' commands get stopped before we go
            await asyncio.gather(*self.jobs.values(), *operators, return_exceptions=True)
        with self.store.conn.begin():
            for attempt_id in list(self.runners) + list(self.jobs):
                catalog.release_lease(self.store.conn, owner=self.owner, attempt_id=attempt_id)

    # ------------------------------------------------------------------ one attempt

    async def _run_attempt(self, attempt_id: int) -> None:
        try:
            runner, attempt, workflow_name, session_time = self._prepare(attempt_id)
        except DigpyError as e:
            log.error("attempt %d can't run: %s", attempt_id, e)
            self._finish_broken(attempt_id, str(e))
            return
        self.runners[attempt_id] = runner
        if attempt["state_flags"] & CANCEL_REQUESTED:  # killed before this node took it: run nothing
            runner.request_cancel()
        handed_back = False
        try:
            root = await runner.run()
        except asyncio.CancelledError:
            handed_back = True
            raise
        finally:
            with self.store.conn.begin():
                catalog.release_lease(self.store.conn, owner=self.owner, attempt_id=attempt_id)
            if handed_back:
                log.info("attempt %d handed back", attempt_id)
        success = root.state == TaskState.SUCCESS
        self.store.finish_attempt(attempt_id, success=success, canceled=root.state == TaskState.CANCELED)
        log.info("attempt %d of %s finished: %s", attempt_id, workflow_name, root.state.label)
        if not success:
            failures = tuple((t.full_name, (t.error or {}).get("message", ""))
                             for t in sorted(runner.graph.tasks.values(), key=lambda t: t.id)
                             if t.state == TaskState.ERROR)
            self.registry.notify_failure(FailedAttempt(
                project=attempt["project_name"] or "", workflow=workflow_name, session_time=session_time,
                attempt_id=attempt_id, state=root.state.label, failures=failures))

    def _finish_broken(self, attempt_id: int, message: str) -> None:
        with self.store.conn.begin():
            catalog.release_lease(self.store.conn, owner=self.owner, attempt_id=attempt_id)
        self.store.finish_attempt(attempt_id, success=False, canceled=False)
        (self.logs.attempt_dir(attempt_id)).mkdir(parents=True, exist_ok=True)
        with open(self.logs.attempt_dir(attempt_id) / "+attempt.log", "a", encoding="utf-8") as f:
            f.write(f"attempt could not start: {message}\n")

    def _prepare(self, attempt_id: int) -> tuple[AttemptRunner, dict[str, Any], str, str]:
        conn = self.store.conn
        with conn.begin():
            attempt = catalog.get_attempt(conn, attempt_id)
            if attempt["workflow_definition_id"] is None:
                raise ConfigError(f"attempt {attempt_id} has no workflow definition")
            definition = catalog.get_workflow(conn, attempt["workflow_definition_id"])
        project_dir = self._checkout(definition["revision_id"])
        try:
            workflow = compile_workflow(definition["name"], json.loads(definition["config"]),
                                        operators=self.registry.names())
        except UnknownOperator as e:  # known where it was pushed, not on this node (or since a restart)
            raise unknown_operator(e) from None
        tz = ZoneInfo(workflow.timezone)
        session_time = datetime.fromtimestamp(attempt["session_time"], tz)
        schedule = (parse_schedule(workflow.schedule, workflow.timezone)
                    if workflow.schedule is not None else None)
        builtins = session_variables(session_time, workflow.timezone, schedule=schedule)
        builtins.update(
            attempt_id=attempt_id, session_id=attempt["session_id"], session_uuid=attempt["session_uuid"],
            project_id=attempt["project_id"], retry_attempt_name=attempt["attempt_name"],
        )
        now = time.time()
        if self.store.has_tasks(attempt_id):
            graph = AttemptGraph.load(self.store.load_tasks(attempt_id), now)
        else:
            graph = AttemptGraph.new(workflow.tasks, now)
        plan = ResumePlan()
        if attempt["resume_attempt_id"] is not None:
            forced = forced_tasks(workflow.tasks, start=attempt["resume_from"]) \
                if attempt["resume_mode"] == "from" else (lambda _n: False)
            plan = ResumePlan(self.store.attempt_actions(attempt["resume_attempt_id"]), forced)
        params = json.loads(attempt["params"]) if isinstance(attempt["params"], str) else attempt["params"]
        providers = [ProjectSecretProvider(self.store, self.box, attempt["project_id"]),
                     *[p for p in self.registry.secret_providers() if p.name != "local"]]
        runner = AttemptRunner(
            store=self.store, attempt_id=attempt_id, graph=graph, registry=self.registry, templates=self.templates,
            base_params=params, builtins=builtins, timezone=workflow.timezone, project_dir=project_dir,
            output=TaskLogWriter(self.logs, attempt_id), plan=plan, secret_providers=providers,
            project_name=attempt["project_name"], settings=RunSettings(max_tasks=self.settings.max_tasks),
            sessions=ServerSessions(self, attempt),
        )
        return runner, attempt, workflow.name, format_session_time(session_time)

    def _checkout(self, revision_id: int) -> Path:
        """The project files of a revision, unpacked once under the data directory.

        A checkout is named by the SHA-256 of its archive, never by the revision id: servers on
        other databases may share the data directory, and their revision 1 is another project.
        It appears complete or not at all (see unpack), so one left by a crash is never used."""
        known = self._checkouts.get(revision_id)
        if known is not None and known.is_dir():
            return known
        with self.store.conn.begin():
            archive = catalog.get_revision_by_id(self.store.conn, revision_id)["archive"] or b""
        target = self.settings.data_dir / "projects" / hashlib.sha256(archive).hexdigest()
        if not target.is_dir():
            unpack(read_archive(archive), target)  # False: another process unpacked it first
        self._checkouts[revision_id] = target
        return target


class ServerSessions:
    """`require>` on the server: sessions of other workflows, run as attempts of their own."""

    def __init__(self, executor: Executor, attempt: dict[str, Any]) -> None:
        self.executor = executor
        self.attempt = attempt

    def require(self, workflow: str, *, session_time: str, params: Any, rerun_on: str = "none",
                project_name: str | None = None, retry_attempt_name: str | None = None) -> AttemptStatus:
        store = self.executor.store
        conn = store.conn
        when = datetime.fromisoformat(session_time.replace("Z", "+00:00"))
        with conn.begin():
            if project_name:
                project = catalog.find_project(conn, project_name)
                if project is None:
                    raise ConfigError(f"require> project '{project_name}' does not exist")
                project_id = int(project["id"])
            else:
                project_id = int(self.attempt["project_id"])
            found = catalog.list_workflows(conn, project_id, name=workflow)
        if not found:
            raise ConfigError(f"require> workflow '{workflow}' does not exist in the project")
        definition = found[0]
        epoch = int(when.timestamp())
        session = store.session_for(project_id, workflow, epoch)
        with conn.begin():
            latest = catalog.list_attempts(conn, session_id=session.id, page_size=1)
        if latest:
            current = latest[0]
            if int(current["id"]) == int(self.attempt["id"]):
                raise ConfigError(f"require> {workflow} for session {format_session_time(when)} is this "
                                  "attempt's own session: it would wait for itself")
            done = bool(current["state_flags"] & DONE)
            success = bool(current["state_flags"] & SUCCESS)
            if rerun_on == "none" or not done or (rerun_on == "failed" and success):
                return self._waitable(current)
        name = retry_attempt_name or (f"require-{uuid.uuid4().hex[:8]}" if latest else None)
        attempt = start_attempt(store, session, definition_id=int(definition["id"]), timezone=definition["timezone"],
                                params=dict(params), attempt_name=name)
        self.executor.wake()
        return _status(attempt)

    def status(self, attempt_id: int) -> AttemptStatus:
        with self.executor.store.conn.begin():
            target = catalog.get_attempt(self.executor.store.conn, attempt_id)
        return self._waitable(target)

    def _waitable(self, target: dict[str, Any]) -> AttemptStatus:
        """The status of an attempt this one may wait for: not one that waits, through the
        `require>` tasks of other attempts, for this attempt (checked at each poll: the other side
        may start waiting later)."""
        status = _status(target)
        if status.done:
            return status
        conn, me = self.executor.store.conn, int(self.attempt["id"])
        seen: set[int] = set()
        todo = [status.attempt_id]
        with conn.begin():
            while todo:
                attempt_id = todo.pop()
                if attempt_id == me:
                    when = datetime.fromtimestamp(int(target["session_time"]), ZoneInfo(target["timezone"]))
                    raise ConfigError(f"require> {target['workflow_name']} for session {format_session_time(when)} "
                                      "waits for the attempt that requires it (a cycle)")
                if attempt_id not in seen:
                    seen.add(attempt_id)
                    todo.extend(catalog.required_attempts(conn, attempt_id))
        return status


def _status(attempt: dict[str, Any]) -> AttemptStatus:
    flags = attempt["state_flags"]
    return AttemptStatus(int(attempt["id"]), int(attempt["session_id"]), bool(flags & DONE),
                         bool(flags & SUCCESS), poll_seconds=1.0)


def start_attempt(store: Store, session: SessionRecord, *, definition_id: int, timezone: str,
                  params: dict[str, Any], attempt_name: str | None) -> dict[str, Any]:
    """Create an attempt for the executor to pick up; returns it as a catalog row."""
    record = store.create_attempt(session, timezone=timezone, params=params, attempt_name=attempt_name,
                                  workflow_definition_id=definition_id)
    with store.conn.begin():
        return catalog.get_attempt(store.conn, record.id)
