"""A real attempt for the engine's tests: a workflow compiled from .dig text, assembled as `digpy run`
assembles it (an in-memory LocalStore, the real plugin registry), and an Output that records what
the runner told it, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from digpy.core.engine.assembly import AttemptInfo, assemble, new_graph
from digpy.core.engine.runner import AttemptRunner, NullOutput, RunSettings
from digpy.core.language.dig.loader import load_text
from digpy.core.language.expression import TemplateEngine
from digpy.core.local_secrets import LocalSecretStore
from digpy.core.plugin_manager import Registry, load_registry
from digpy.core.spi import SecretProvider
from digpy.core.store.local import LocalStore
from digpy.core.workflow.model import Task, TaskState
from digpy.core.workflow.resume import ResumePlan
from digpy.core.workflow.spec import Workflow
from digpy.core.workflow.tree import compile_workflow

SESSION_TIME = datetime(2026, 1, 31, tzinfo=UTC)


class Recorder(NullOutput):
    """Every call of the runner, in order: ("start", task, summary), ("output", task, text),
    ("end", task, state). At each call it also reads the task's state from the store, to show what
    was committed when the runner acted."""

    def __init__(self, store: LocalStore, attempt_id: int) -> None:
        self.store = store
        self.attempt_id = attempt_id
        self.events: list[tuple[str, str, str]] = []
        self.stored: list[tuple[str, str, str | None]] = []  # (event, task, its stored state then)
        self.printed = asyncio.Event()  # set by the first output (for tests that act while a task runs)

    def _stored_state(self, task: Task) -> str | None:
        row = self.store.raw.execute("SELECT state FROM tasks WHERE attempt_id = ? AND full_name = ? "
                                     "ORDER BY id DESC LIMIT 1", (self.attempt_id, task.full_name)).fetchone()
        return None if row is None else TaskState(row[0]).label

    def task_started(self, task: Task, summary: str) -> None:
        self.events.append(("start", task.full_name, summary))

    def task_output(self, task: Task, text: str, stream: str) -> None:
        self.events.append(("output", task.full_name, text))
        self.stored.append(("output", task.full_name, self._stored_state(task)))
        self.printed.set()

    def task_finished(self, task: Task) -> None:
        self.events.append(("end", task.full_name, task.state.label))
        self.stored.append(("end", task.full_name, self._stored_state(task)))

    def output_of(self, suffix: str) -> str:
        """Everything the tasks whose full name ends with `suffix` printed."""
        return "".join(text for kind, name, text in self.events if kind == "output" and name.endswith(suffix))

    def order(self) -> list[tuple[str, str]]:
        """(event, task) without the texts."""
        return [(kind, name) for kind, name, _ in self.events]


class Attempt:
    """One assembled attempt, not yet run."""

    def __init__(self, workflow: Workflow, store: LocalStore, runner: AttemptRunner, output: Recorder) -> None:
        self.workflow = workflow
        self.store = store
        self.runner = runner
        self.output = output

    @property
    def attempt_id(self) -> int:
        return self.runner.attempt_id

    def run(self) -> TaskState:
        """Run to the end; the root task's state."""
        return asyncio.run(self.runner.run()).state

    def states(self) -> dict[str, str]:
        """Every task's state as the runner left it in memory."""
        return {t.full_name: t.state.label for t in self.runner.graph.tasks.values()}

    def stored(self) -> dict[str, Task]:
        """Every task as stored, by full name (the newest copy of a retried one)."""
        return {t.full_name: t for t in self.store.load_tasks(self.attempt_id)}

    def stored_states(self) -> dict[str, str]:
        return {name: t.state.label for name, t in self.stored().items()}


@pytest.fixture
def secret_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalSecretStore:
    """The local secret file the local secret provider reads (never the user's own)."""
    monkeypatch.setenv("DIGPY_CONFIG_DIR", str(tmp_path / "config"))
    return LocalSecretStore(tmp_path / "config")


@pytest.fixture(scope="session")
def registry() -> Registry:
    return load_registry()


MakeAttempt = Callable[..., Attempt]


@pytest.fixture
def make_attempt(registry: Registry, tmp_path: Path, secret_store: LocalSecretStore) -> Iterator[MakeAttempt]:
    """`make_attempt(dig_text, plan=..., settings=..., ended=..., secret_providers=..., params=...)`
    → an Attempt of workflow `wf` in project directory tmp_path; its secrets are those of
    `secret_store` (the real local secret provider, on a directory of the test)."""
    stores: list[LocalStore] = []

    def make(source: str, *, plan: ResumePlan | None = None, settings: RunSettings | None = None,
             ended: frozenset[str] = frozenset(), secret_providers: list[SecretProvider] | None = None,
             params: dict[str, Any] | None = None) -> Attempt:
        workflow = compile_workflow("wf", load_text(source, "wf.dig"), operators=registry.names())
        store = LocalStore.memory()
        stores.append(store)
        project_id = store.ensure_project("p")
        session = store.session_for(project_id, "wf", int(SESSION_TIME.timestamp()))
        record = store.create_attempt(session, timezone="UTC", params=params or {})
        info = AttemptInfo(attempt_id=record.id, session_id=session.id, session_uuid=session.session_uuid,
                           project_id=project_id, project_name="p", session_time=SESSION_TIME,
                           params=params or {})
        output = Recorder(store, record.id)
        runner = assemble(workflow, info, new_graph(workflow.tasks, ended=ended), store=store, registry=registry,
                          templates=TemplateEngine(), project_dir=tmp_path, output=output, plan=plan,
                          secret_providers=secret_providers, settings=settings)
        return Attempt(workflow, store, runner, output)

    yield make
    for store in stores:
        store.close()
