"""A workflow's `queue:` and `max_active_attempts:`: read at compile time, located errors, and
settings of the workflow only (not of its tasks, not of a workflow it calls)."""

from __future__ import annotations

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.dig.loader import load_text
from digpy.core.project import load_called_workflow
from digpy.core.workflow.queue import AttemptLimits
from digpy.core.workflow.tree import compile_workflow


def compile_text(text: str):
    return compile_workflow("wf", load_text(text, "wf.dig"), operators=["echo", "call"])


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as e:
        compile_text(text)
    return str(e.value)


def test_queue_and_max_active_attempts_are_settings_of_the_workflow_not_of_its_root_task():
    wf = compile_text("queue: etl.db-1\nmax_active_attempts: 2\n+a:\n  echo>: a\n")
    assert wf.limits == AttemptLimits("etl.db-1", 2, wf.limits.queue_location)
    assert str(wf.limits.queue_location) == "wf.dig:1:8"
    assert wf.tasks[0].config == {}, "the root task has no such params"
    assert compile_text("+a:\n  echo>: a\n").limits == AttemptLimits()


@pytest.mark.parametrize(("text", "message"), [
    ("queue: a b\n", "wf.dig:1:8: queue must be a queue name, got 'a b'; letters, digits, _ . and - (not first), "
                     "at most 255 characters"),
    ("queue: ${q}\n", "wf.dig:1:8: queue must be a queue name, got '${q}'"),
    ("queue: [a]\n", "wf.dig:1:8: queue must be a queue name, got ['a']"),
    ("queue: -a\n", "wf.dig:1:8: queue must be a queue name, got '-a'"),
    ("max_active_attempts: 0\n", "wf.dig:1:22: max_active_attempts must be a whole number >= 1, got 0"),
    ("max_active_attempts: two\n", "wf.dig:1:22: max_active_attempts must be a whole number, got 'two'"),
    ("max_active_attempts: 1.5\n", "wf.dig:1:22: max_active_attempts must be a whole number, got 1.5"),
    ("+g:\n  queue: q\n  +a:\n    echo>: a\n", "wf.dig:2:3: group +wf+g has an invalid key 'queue'"),
])
def test_bad_values_are_located_errors(text, message):
    assert error_of(text + "+t:\n  echo>: t\n").startswith(message)


def test_a_misspelt_setting_suggests_the_right_one():
    assert "did you mean 'max_active_attempts'" in error_of("max_active_attempt: 2\n+a:\n  echo>: a\n")


def test_a_called_workflow_drops_its_queue_settings(tmp_path):
    (tmp_path / "sub.dig").write_text("queue: q\nmax_active_attempts: 1\n+s:\n  echo>: s\n")
    called = load_called_workflow(tmp_path, tmp_path, "sub")
    assert list(called.config) == ["+s"]
