"""Test helpers for operator authors: run one operator against a config through the real engine.

In a plugin's tests (pytest finds the `digpy_operator` fixture through digpy's `pytest11` entry
point)::

    def test_hello(digpy_operator):
        run = digpy_operator({"hello>": "world"}, plugins=[my_plugin_module])
        assert run.state == "success"
        assert run.output == "hello world\\n"

The task runs in a real attempt (in-memory store, real runner, `${...}` evaluation, retries),
so what passes here behaves the same in `digpy run`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from digpy.core.engine.expressions import IsolatedTemplateEngine
from digpy.core.engine.runner import AttemptRunner, NullOutput
from digpy.core.plugin_manager import load_registry
from digpy.core.store.local import LocalStore
from digpy.core.workflow.state_machine import AttemptGraph
from digpy.core.workflow.tree import compile_workflow


@dataclass
class OperatorRun:
    """How one task ended: its state, output, error and results."""

    state: str
    output: str = ""
    error: str | None = None
    stores: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)
    subtasks: dict[str, Any] | None = None
    tasks: dict[str, str] = field(default_factory=dict)  # every task's full name → state


class _Collect(NullOutput):
    def __init__(self) -> None:
        self.parts: list[str] = []

    def task_output(self, task: Any, text: str, stream: str) -> None:
        self.parts.append(text)


def run_operator(
    config: Mapping[str, Any], *, params: Mapping[str, Any] | None = None, plugins: Sequence[Any] = (),
    project_dir: Path | None = None, timezone: str = "UTC",
) -> OperatorRun:
    """Run one task with `config` (e.g. `{"hello>": "world", "greeting": "hi"}`) and report how it went.

    plugins: plugin modules or objects to register besides the installed ones.
    params: session params (as `-p` gives them).
    """
    registry = load_registry(extra=tuple(plugins))
    workflow = compile_workflow("test", {"+task": dict(config)}, operators=registry.names())
    store = LocalStore.memory()
    try:
        project = store.ensure_project("test")
        session = store.session_for(project, "test", 0)
        attempt = store.create_attempt(session, timezone=timezone, params=dict(params or {}))
        graph = AttemptGraph.new(workflow.tasks, time.time())
        output = _Collect()
        runner = AttemptRunner(
            store=store, attempt_id=attempt.id, graph=graph, registry=registry, templates=IsolatedTemplateEngine(),
            base_params=dict(params or {}), builtins={"timezone": timezone, "session_time": "1970-01-01T00:00:00+00:00"},
            timezone=timezone, project_dir=project_dir or Path.cwd(), output=output,
            secret_providers=registry.secret_providers(),
        )
        asyncio.run(runner.run())
        task = next(t for t in graph.tasks.values() if t.full_name == "+test+task")
        return OperatorRun(
            state=task.state.label, output="".join(output.parts), error=(task.error or {}).get("message"),
            stores=task.store_params, exports=task.export_params, subtasks=task.subtask_config,
            tasks={t.full_name: t.state.label for t in graph.tasks.values()},
        )
    finally:
        store.close()


@pytest.fixture  # type: ignore[untyped-decorator,unused-ignore]  # untyped where pytest is not installed
def digpy_operator(tmp_path: Path) -> Iterator[Callable[..., OperatorRun]]:
    """`digpy_operator(config, plugins=[...], params={...})` → OperatorRun, run in tmp_path."""

    def run(config: Mapping[str, Any], **kwargs: Any) -> OperatorRun:
        kwargs.setdefault("project_dir", tmp_path)
        return run_operator(config, **kwargs)

    yield run
