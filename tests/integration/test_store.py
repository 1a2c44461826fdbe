"""The SQL store and a whole attempt on it, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from digpy.core.engine.runner import AttemptRunner, NullOutput
from digpy.core.language.dig.loader import load_text
from digpy.core.language.expression import TemplateEngine
from digpy.core.plugin_manager import load_registry
from digpy.core.spi import TaskResult
from digpy.core.store import SCHEMA_REVISION, migrate, schema
from digpy.core.store.local import LocalStore
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.state_machine import AttemptGraph
from digpy.core.workflow.tree import compile_workflow


class Collect(NullOutput):
    def __init__(self):
        self.out = io.StringIO()

    def task_output(self, task, text, stream):
        self.out.write(text)


def test_migrations_create_exactly_the_schema_in_schema_py(store):
    assert migrate.head_revision() == SCHEMA_REVISION
    with store.engine.connect() as conn:
        assert migrate.current_revision(conn) == SCHEMA_REVISION
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == []


def test_sessions_are_unique_per_project_workflow_and_time(store):
    project = store.ensure_project("p")
    assert store.ensure_project("p") == project
    a = store.session_for(project, "wf", 1000)
    b = store.session_for(project, "wf", 1000)
    c = store.session_for(project, "wf", 2000)
    assert a == b and a.id != c.id
    first = store.create_attempt(a, timezone="UTC", params={"k": "v"})
    second = store.create_attempt(a, timezone="UTC", params={})
    assert (first.attempt_index, second.attempt_index) == (1, 2)
    assert store.latest_session_time(project, "wf") == 2000
    assert store.last_executed_session_time(project, "wf", 2000) == 1000


def test_tasks_round_trip_and_prior_actions(store):
    project = store.ensure_project("p")
    session = store.session_for(project, "wf", 0)
    attempt = store.create_attempt(session, timezone="UTC", params={})
    workflow = compile_workflow("wf", load_text("+a: {echo>: a}\n+b: {sh>: b}\n+c: {echo>: 'ü'}\n"))
    graph = AttemptGraph.new(workflow.tasks, 0)
    graph.start(0)
    a = graph.take_ready()
    graph.mark_running(a, 1)
    graph.succeed(a, TaskResult(stores={"x": [1, {"y": "ü"}]}, subtasks={"+s": {"echo>": 1}}), 2)
    store.write_tasks(attempt.id, *graph.take_changes())
    loaded = {t.full_name: t for t in store.load_tasks(attempt.id)}
    assert loaded["+wf+a"].store_params == {"x": [1, {"y": "ü"}]}
    assert loaded["+wf+a"].state == TaskState.PLANNED
    assert loaded["+wf+a^sub+s"].parent_id == loaded["+wf+a^sub"].id
    assert loaded["+wf+c"].config == {"_type": "echo", "_command": "ü"}
    assert loaded["+wf+b"].upstreams == [a.id]
    later = store.create_attempt(session, timezone="UTC", params={})
    assert store.prior_actions(session.id, later.id) == {}, "a generator whose children have not ended is not done"
    s = graph.take_ready()
    graph.mark_running(s, 3)
    graph.succeed(s, TaskResult(), 4)
    store.write_tasks(attempt.id, *graph.take_changes())
    prior = store.prior_actions(session.id, later.id)
    assert set(prior) == {"+wf+a", "+wf+a^sub+s"}
    assert prior["+wf+a"].subtask_config == {"+s": {"echo>": 1}}


def test_a_whole_attempt_runs_on_the_store(store, tmp_path: Path):
    registry = load_registry()
    workflow = compile_workflow("wf", load_text(
        "_export: {n: 3}\n+a:\n  sh>: echo shell $n\n+p:\n  _parallel: true\n  +x: {echo>: x}\n  +y: {echo>: y}\n"
        "+bad:\n  fail>: nope\n  _error:\n    echo>: handled ${error.message}\n"
    ), operators=registry.names())
    project = store.ensure_project("p")
    session = store.session_for(project, "wf", 0)
    attempt = store.create_attempt(session, timezone="UTC", params={})
    graph = AttemptGraph.new(workflow.tasks, time.time())
    output = Collect()
    runner = AttemptRunner(
        store=store, attempt_id=attempt.id, graph=graph, registry=registry, templates=TemplateEngine(),
        base_params={}, builtins={"timezone": "UTC"}, timezone="UTC", project_dir=tmp_path, output=output,
    )
    root = asyncio.run(runner.run())
    assert root.state == TaskState.GROUP_ERROR
    assert output.out.getvalue().splitlines()[0] == "shell 3"
    assert "handled nope" in output.out.getvalue()
    states = {t.full_name: t.state for t in store.load_tasks(attempt.id)}
    assert states["+wf+a"] == TaskState.SUCCESS
    assert states["+wf+p"] == TaskState.SUCCESS
    assert states["+wf+bad"] == TaskState.ERROR
    assert states["+wf+bad^error"] == TaskState.SUCCESS
    assert states["+wf"] == TaskState.GROUP_ERROR
    assert len(states) == 7


def test_local_store_is_created_and_reopened(tmp_path):
    first = LocalStore.open_local(tmp_path)
    first.ensure_project("x")
    first.close()
    second = LocalStore.open_local(tmp_path)
    assert second.ensure_project("x") == 1
    assert second.raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    second.close()


def test_the_generated_sqlite_ddl_is_schema_py():
    from digpy.core.store import sqlite_ddl

    assert Path(sqlite_ddl.__file__).read_text(encoding="utf-8") == migrate.sqlite_ddl_source(), \
        "regenerate it: python -m digpy.core.store.migrate"


def test_a_local_store_made_without_sqlalchemy_equals_the_migrated_schema(tmp_path):
    LocalStore.open_local(tmp_path).close()
    engine = create_engine(f"sqlite:///{tmp_path / '.digpy' / 'state.db'}")
    with engine.connect() as conn:
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext

        assert migrate.current_revision(conn) == SCHEMA_REVISION
        assert compare_metadata(MigrationContext.configure(conn), schema.metadata) == []
    engine.dispose()


def test_a_local_store_at_an_older_revision_is_upgraded(tmp_path):
    (tmp_path / ".digpy").mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / '.digpy' / 'state.db'}")
    migrate.upgrade(engine, "0001_initial")
    engine.dispose()
    store = LocalStore.open_local(tmp_path)
    assert store.raw.execute("SELECT version_num FROM alembic_version").fetchone()[0] == SCHEMA_REVISION
    assert store.ensure_project("x") == 1
    store.close()


def test_a_local_store_from_a_newer_digpy_is_one_clear_error(tmp_path):
    from digpy.core.errors import ConfigError

    LocalStore.open_local(tmp_path).close()
    import sqlite3

    db = sqlite3.connect(tmp_path / ".digpy" / "state.db")
    db.execute("UPDATE alembic_version SET version_num = '0099_future'")
    db.commit()
    db.close()
    with pytest.raises(ConfigError) as e:
        LocalStore.open_local(tmp_path)
    assert "Can't locate revision identified by '0099_future'" in str(e.value)
    assert "written by a newer digpy" in str(e.value)



def test_session_uuids_are_random_version_4_uuids():
    import uuid

    from digpy.core.store.sql import random_uuid

    made = {random_uuid() for _ in range(1000)}
    assert len(made) == 1000
    for made_uuid in made:
        parsed = uuid.UUID(made_uuid)
        assert str(parsed) == made_uuid and parsed.version == 4 and parsed.variant == uuid.RFC_4122
