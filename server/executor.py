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
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from digpy.core.engine.assembly import AttemptInfo, assemble, run_attempt, stored_graph
from digpy.core.engine.expressions import IsolatedTemplateEngine
from digpy.core.engine.guard import ATTEMPT_ENV, attempt_tag, stop_marked
from digpy.core.engine.runner import AttemptRunner, RunSettings
from digpy.core.engine.sessions import RequiredSessions
from digpy.core.errors import ConfigError, DigpyError
from digpy.core.plugin_manager import Registry
from digpy.core.secrets import SecretBox
from digpy.core.spi import SecretProvider
from digpy.core.store import CANCEL_REQUESTED, catalog, queues
from digpy.core.store.server import ServerStore
from digpy.core.store.sql import LeaseLost
from digpy.core.workflow.resume import ResumePlan, forced_tasks
from digpy.core.workflow.spec import Workflow
from digpy.core.workflow.tree import compile_workflow, unknown_operator_warning
from digpy.server.archive import read_archive, unpack
from digpy.server.logs import LogStore, TaskLogWriter
from digpy.server.plugins import unknown_operator
from digpy.server.secrets import ProjectSecretProvider
from digpy.server.sessions import ServerSessionBackend

T = TypeVar("T")
log = logging.getLogger("digpy.server.executor")
LEASE_SECONDS = 15.0
RENEW_SECONDS = 5.0
# How often an idle executor looks for attempts it was not woken for (other nodes' starts, leases
# that expired); DIGPY_EXECUTOR_IDLE_SECONDS changes it (docs/server.md).
IDLE_SECONDS = max(0.05, float(os.environ.get("DIGPY_EXECUTOR_IDLE_SECONDS") or 1.0))
COMPILED_KEPT = 256  # compiled workflow definitions kept in memory
UNCONFIGURED_QUEUE_LIMIT = 1


def _log_failure(what: str, future: asyncio.Future[object]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("%s: %s", what, future.exception(), exc_info=future.exception())


@dataclass
class ExecutorSettings:
    data_dir: Path
    max_tasks: int = 32
    max_attempts: int = 100
    node_id: str = ""
    queues: dict[str, int] = field(default_factory=dict)  # queue name -> its limit of active attempts


class Executor:
    """Runs the attempts this node holds; woken early when an attempt is started or killed here.

    Its database work runs in the server's database threads (`db`), never on the event loop."""

    def __init__(self, store: ServerStore, registry: Registry, logs: LogStore, box: SecretBox,
                 settings: ExecutorSettings, db: ThreadPoolExecutor) -> None:
        self.store = store
        self.registry = registry
        self.logs = logs
        self.box = box
        self.settings = settings
        self.db = db
        self.owner = settings.node_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.templates = IsolatedTemplateEngine()
        self.jobs: dict[int, asyncio.Task[None]] = {}
        self.runners: dict[int, AttemptRunner] = {}
        self._checkouts: dict[int, Path] = {}  # revision id -> its files (ids of this database)
        self._workflows: OrderedDict[int, Workflow] = OrderedDict()  # definition id -> compiled (they never change)
        self.operators = registry.names()
        self.secret_providers = [p for p in registry.secret_providers() if not getattr(p, "local_only", False)]
        self._wake = asyncio.Event()
        self._stopping = False
        self._unknown_queues: set[str] = set()
        # called with an attempt's id when it ends here, in a database thread (the server keeps a
        # large attempt's snapshot for its first page: services.live.warm)
        self.finished: list[Callable[[int], object]] = []

    def wake(self) -> None:
        self._wake.set()

    async def offload(self, work: Callable[[], T]) -> T:
        """Run blocking work (SQL, unpacking, compiling) in a database thread."""
        return await asyncio.get_running_loop().run_in_executor(self.db, work)

    async def run(self) -> None:
        last_renew = 0.0
        while not self._stopping:
            now = time.monotonic()
            renew = now - last_renew >= RENEW_SECONDS
            held, to_cancel, claimed = await self.offload(partial(self._tick, renew, list(self.jobs),
                                                                  list(self.runners)))
            if renew:
                for lost in set(self.jobs) - set(held):
                    log.error("lease of attempt %d was taken by another node; stopping it here", lost)
                    self._abort(lost)
                last_renew = now
            for attempt_id in to_cancel:
                if attempt_id in self.runners:
                    self.runners[attempt_id].request_cancel()
            for attempt_id in claimed:
                self.jobs[attempt_id] = asyncio.ensure_future(self._run_attempt(attempt_id))
                self.jobs[attempt_id].add_done_callback(partial(self._done_callback, attempt_id))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_SECONDS)
            self._wake.clear()

    def _tick(self, renew: bool, jobs: list[int], runners: list[int]) -> tuple[list[int], list[int], list[int]]:
        """One transaction: renew this node's leases, find kill requests, admit queued attempts that
        fit their limits now, claim free attempts."""
        with self.store.begin() as conn:
            held = catalog.renew_leases(conn, owner=self.owner, attempt_ids=jobs,
                                        lease_seconds=LEASE_SECONDS) if renew else jobs
            to_cancel = catalog.cancel_requested(conn, runners)
            if not self._stopping:
                queues.admit(conn, self._queue_limit)
            free = self.settings.max_attempts - len(jobs)
            claimed = catalog.claim_attempts(conn, owner=self.owner, lease_seconds=LEASE_SECONDS, limit=free,
                                             exclude=jobs) if free > 0 and not self._stopping else []
        return held, to_cancel, claimed

    def _queue_limit(self, queue: str) -> int:
        """A queue's limit of active attempts; one this node's configuration does not name (pushed
        while another configuration named it) lets one attempt at a time through."""
        limit = self.settings.queues.get(queue)
        if limit is None:
            if queue not in self._unknown_queues:
                self._unknown_queues.add(queue)
                log.warning("queue '%s' is not configured on this node: its attempts run one at a time "
                            "(give every node the same --queue options)", queue)
            return UNCONFIGURED_QUEUE_LIMIT
        return limit

    def _done_callback(self, attempt_id: int, _job: asyncio.Future[None]) -> None:
        self._done(attempt_id)

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
        held = list(self.jobs)
        operators = [h for runner in self.runners.values() for h in runner.running.values()]
        for attempt_id in held:
            self._abort(attempt_id)
        if self.jobs or operators:  # the operators' commands get stopped before we go
            await asyncio.gather(*self.jobs.values(), *operators, return_exceptions=True)
        if held:  # also those cancelled before they began
            await self.offload(partial(self._release, held))
        self.templates.close()  # the idle expression children

    def _release(self, attempt_ids: list[int]) -> None:
        with self.store.begin() as conn:
            for attempt_id in attempt_ids:
                catalog.release_lease(conn, owner=self.owner, attempt_id=attempt_id)

    # ------------------------------------------------------------------ one attempt

    async def _run_attempt(self, attempt_id: int) -> None:
        try:
            runner, workflow, info = await self.offload(partial(self._prepare, attempt_id))
        except DigpyError as e:
            log.error("attempt %d can't run: %s", attempt_id, e)
            await self.offload(partial(self._finish_broken, attempt_id, str(e)))
            return
        self.runners[attempt_id] = runner
        try:
            state = await run_attempt(runner, workflow, info, store=self.store, registry=self.registry)
        except LeaseLost:
            runner.abort()  # another node runs it now: stop the commands, leave its state alone
            log.error("attempt %d was taken over by another node; stopped here", attempt_id)
            return
        except asyncio.CancelledError:  # this node stops: the attempt goes back, unfinished
            await asyncio.shield(self.offload(partial(self._release, [attempt_id])))
            log.info("attempt %d handed back", attempt_id)
            raise
        log.info("attempt %d of %s finished: %s", attempt_id, workflow.name, state.label)  # and its lease released
        for listener in self.finished:  # not awaited: the attempt's slot is free at once
            future = asyncio.get_running_loop().run_in_executor(self.db, listener, attempt_id)
            future.add_done_callback(partial(_log_failure, f"after attempt {attempt_id} ended"))

    def _finish_broken(self, attempt_id: int, message: str) -> None:
        self.store.finish_attempt(attempt_id, success=False, canceled=False, owner=self.owner)
        self._release([attempt_id])
        self._attempt_log(attempt_id, f"attempt could not start: {message}\n")

    def _attempt_log(self, attempt_id: int, text: str) -> None:
        """Add to the attempt's own log (`+attempt.log`), which `digpy log` shows with its tasks'."""
        (self.logs.attempt_dir(attempt_id)).mkdir(parents=True, exist_ok=True)
        with open(self.logs.attempt_dir(attempt_id) / "+attempt.log", "a", encoding="utf-8") as f:
            f.write(text)

    def _prepare(self, attempt_id: int) -> tuple[AttemptRunner, Workflow, AttemptInfo]:
        with self.store.begin():  # one transaction for every query below
            return self._prepare_in(attempt_id)

    def _compiled(self, definition: dict[str, Any]) -> Workflow:
        """A workflow definition compiled (definitions never change: kept for the next attempts)."""
        workflow = self._workflows.get(definition["id"])
        if workflow is None:
            workflow = compile_workflow(definition["name"], json.loads(definition["config"]),
                                        operators=self.operators, lenient=True)
            self._workflows[definition["id"]] = workflow
            if len(self._workflows) > COMPILED_KEPT:
                self._workflows.popitem(last=False)
        else:
            self._workflows.move_to_end(definition["id"])
        return workflow

    def _prepare_in(self, attempt_id: int) -> tuple[AttemptRunner, Workflow, AttemptInfo]:
        with self.store.begin() as conn:
            attempt = catalog.get_attempt(conn, attempt_id)
            if attempt["workflow_definition_id"] is None:
                raise ConfigError(f"attempt {attempt_id} has no workflow definition")
            definition = catalog.get_workflow(conn, attempt["workflow_definition_id"])
        project_dir = self._checkout(definition["revision_id"])
        workflow = self._compiled(definition)
        tz = ZoneInfo(workflow.timezone)
        executed = self.store.last_executed_session_time(attempt["project_id"], workflow.name,
                                                         attempt["session_time"])
        project_name = attempt["project_name"] or attempt["project_deleted_name"] or ""
        info = AttemptInfo(
            attempt_id=attempt_id, session_id=attempt["session_id"], session_uuid=attempt["session_uuid"],
            project_id=attempt["project_id"], project_name=project_name,
            session_time=datetime.fromtimestamp(attempt["session_time"], tz),
            params=json.loads(attempt["params"]) if isinstance(attempt["params"], str) else attempt["params"],
            attempt_name=attempt["attempt_name"],
            last_executed_session_time=datetime.fromtimestamp(executed, tz) if executed is not None else None,
            run_time=attempt["run_time"] or attempt["created_at"],  # a scheduled slot's, else its creation
        )
        resumed = self.store.has_tasks(attempt_id)
        if resumed:  # taken over, or this node restarted: the old copies of its commands go first
            stop_marked(ATTEMPT_ENV, attempt_tag(attempt["session_uuid"], attempt_id))
            self.registry.attempts_stale([attempt_tag(attempt["session_uuid"], attempt_id)])  # a shared container
        if workflow.unknown_operators and not resumed:  # said once, at its start
            for error in workflow.unknown_operators:  # known where it was pushed, not on this node?
                warning = unknown_operator_warning(unknown_operator(error))
                log.warning("attempt %d: %s", attempt_id, warning)
                self._attempt_log(attempt_id, f"warning: {warning}\n")
        plan = ResumePlan()
        if attempt["resume_attempt_id"] is not None:
            forced = forced_tasks(workflow.tasks, start=attempt["resume_from"]) \
                if attempt["resume_mode"] == "from" else (lambda _n: False)
            plan = ResumePlan(self.store.attempt_actions(attempt["resume_attempt_id"]), forced)
        providers: list[SecretProvider] = [ProjectSecretProvider(self.store, self.box, attempt["project_id"]),
                                           *self.secret_providers]
        runner = assemble(
            workflow, info, stored_graph(self.store, attempt_id, workflow.tasks), store=self.store,
            registry=self.registry, templates=self.templates, project_dir=project_dir,
            output=TaskLogWriter(self.logs, attempt_id), plan=plan, secret_providers=providers,
            sessions=RequiredSessions(ServerSessionBackend(self.store, self.wake, default_project=attempt["project_id"]),
                                      attempt_id),
            settings=RunSettings(max_tasks=self.settings.max_tasks), secrets_project=project_name,
            offload=self.offload, owner=self.owner,
        )
        if attempt["state_flags"] & CANCEL_REQUESTED:  # killed before this node took it: run nothing
            runner.request_cancel()
        return runner, workflow, info

    def _checkout(self, revision_id: int) -> Path:
        """The project files of a revision, unpacked once under the data directory.

        A checkout is named by the SHA-256 of its archive, never by the revision id: servers on
        other databases may share the data directory, and their revision 1 is another project.
        It appears complete or not at all (see unpack), so one left by a crash is never used."""
        known = self._checkouts.get(revision_id)
        if known is not None and known.is_dir():
            return known
        with self.store.begin() as conn:
            archive = catalog.get_revision_by_id(conn, revision_id)["archive"] or b""
        target = self.settings.data_dir / "projects" / hashlib.sha256(archive).hexdigest()
        if not target.is_dir():
            unpack(read_archive(archive), target)  # False: another process unpacked it first
        self._checkouts[revision_id] = target
        return target
