"""Dagu's history and schedule settings compile onto the engine's `retention:` and the schedule's
`skip_if_successful`, which `.dig` files have too (no store, no server)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.registry import load_file
from digpy.core.workflow.retention import Retention
from digpy.core.workflow.schedule import parse_schedule
from digpy.core.workflow.tree import compile_workflow

STEPS = "steps:\n  - name: a\n    command: echo a\n"


def compiled(tmp_path: Path, text: str, name: str = "dag", suffix: str = ".yaml"):
    path = tmp_path / f"{name}{suffix}"
    path.write_text(text, encoding="utf-8")
    return compile_workflow(name, load_file(path, display_root=tmp_path))


@pytest.mark.parametrize(("head", "retention", "written"), [
    ("histRetentionDays: 7\n", Retention(7 * 86400, None), {"age": "7d"}),
    ("hist_retention_days: 0\n", Retention(30 * 86400, None), {"age": "30d"}),  # Dagu 1.30: 0 is its default, 30
    ("histRetentionRuns: 5\n", Retention(None, 5), {"sessions": 5}),
    ("histRetentionDays: 2\nhist_retention_runs: 3\n", Retention(2 * 86400, 3), {"age": "2d", "sessions": 3}),
])
def test_history_retention_becomes_the_workflow_s_retention(tmp_path, head, retention, written):
    workflow = compiled(tmp_path, head + STEPS)
    assert workflow.retention == retention
    assert workflow.config["retention"] == written  # what `digpy check` and the server's stored definition show


def test_a_dig_workflow_has_the_same_retention(tmp_path):
    workflow = compiled(tmp_path, "retention:\n  age: 12h\n  sessions: 40\n+a:\n  echo>: a\n", suffix=".dig")
    assert workflow.retention == Retention(12 * 3600, 40)
    assert "retention" not in {t.name for t in workflow.tasks}


def test_skip_if_successful_is_an_option_of_the_schedule(tmp_path):
    workflow = compiled(tmp_path, 'schedule: "0 7 * * *"\nskipIfSuccessful: true\n' + STEPS)
    assert workflow.schedule == {"cron>": "0 7 * * *", "skip_if_successful": True}
    assert parse_schedule(workflow.schedule, "UTC").skip_if_successful
    assert compiled(tmp_path, "skipIfSuccessful: true\n" + STEPS, "unscheduled").schedule is None  # as Dagu: no effect
    dig = compiled(tmp_path, "schedule:\n  daily>: 07:00:00\n  skip_if_successful: true\n+a:\n  echo>: a\n",
                   "d", ".dig")
    schedule = parse_schedule(dig.schedule, "UTC")
    assert schedule.skip_if_successful
    assert schedule.prev_slot(datetime(2026, 3, 2, tzinfo=UTC)).run_time == datetime(2026, 3, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize(("text", "message"), [
    ("histRetentionDays: -1\n" + STEPS, "dag.yaml:1:20: histRetentionDays must be a whole number from 0"),
    ("histRetentionRuns: 0\n" + STEPS, "dag.yaml:1:20: histRetentionRuns must be a whole number from 1"),
    ("histRetentionDays: soon\n" + STEPS, "dag.yaml:1:20: histRetentionDays must be a whole number from 0"),
    ("skipIfSuccessful: yes\n" + STEPS, "dag.yaml:1:19: skipIfSuccessful must be true or false"),
    ("maxCleanUpTimeSec: 0\n" + STEPS, "dag.yaml:1:20: maxCleanUpTimeSec must be a whole number from 1"),
    ("restartWaitSec: 5\n" + STEPS, "dag.yaml:1:1: DAG 'dag': 'restartWaitSec' is not supported yet by digpy"),
])
def test_bad_settings_are_located_errors(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        compiled(tmp_path, text)
    assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize(("text", "message"), [
    ("retention: 30d\n", "w.dig:1:12: retention must be a mapping such as {age: 30d, sessions: 100}"),
    ("retention:\n  days: 3\n", "w.dig:2:3: retention has an unknown key 'days'"),
    ("retention:\n  age: soon\n", "w.dig:2:8: invalid retention age 'soon'"),
    ("retention:\n  sessions: 0\n", "w.dig:2:13: retention sessions must be a whole number >= 1"),
])
def test_bad_dig_retention_is_a_located_error(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        compiled(tmp_path, text + "+a:\n  echo>: a\n", "w", ".dig")
    assert str(caught.value).startswith(message), str(caught.value)


def test_skip_if_successful_is_true_or_false():
    with pytest.raises(ConfigError, match="skip_if_successful must be true or false"):
        parse_schedule({"daily>": "07:00:00", "skip_if_successful": "yes"}, "UTC")


def test_max_clean_up_time_is_the_stop_grace_of_the_dag_s_command_tasks(tmp_path):
    (tmp_path / "child.yaml").write_text(STEPS)
    workflow = compiled(tmp_path, """\
maxCleanUpTimeSec: 30
steps:
  - name: a
    command: sleep 1
  - name: b
    run: child
handlerOn:
  failure:
    command: echo failed
  cancel:
    command: echo canceled
""")
    graces = {t.full_name: t.config.get("_stop_grace") for t in workflow.tasks if not t.is_group}
    assert graces == {"+dag+a": 30, "+dag+b": None}, "a child DAG has its own"
    assert workflow.config["_error"]["+on_failure"]["_stop_grace"] == 30
    assert workflow.config["_cancel"]["+on_cancel"]["_stop_grace"] == 30


@pytest.mark.parametrize(("text", "message"), [
    ("+a:\n  sh>: sleep 1\n  _stop_grace: 0\n", "w.dig:3:16: _stop_grace must be a number of seconds (> 0"),
    ("+a:\n  sh>: sleep 1\n  _stop_grace: soon\n", "w.dig:3:16: _stop_grace must be a number of seconds (> 0"),
    ("+g:\n  _stop_grace: 3\n  +a:\n    sh>: sleep 1\n", "w.dig:2:3: group +w+g has an invalid key '_stop_grace'"),
])
def test_bad_stop_grace_is_a_located_error(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        compiled(tmp_path, text, "w", ".dig")
    assert str(caught.value).startswith(message), str(caught.value)
