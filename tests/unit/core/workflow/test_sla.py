"""SLAs: reading `sla:` and `_sla`, their deadlines, and what the state machine does when one is
missed, driven with an explicit clock (no runner, no waiting)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.dig.loader import load_text
from digpy.core.spi import TaskResult
from digpy.core.workflow.model import TaskFlags, TaskState
from digpy.core.workflow.resume import ActionRecord, ResumePlan
from digpy.core.workflow.state_machine import SLA_MISSED, AttemptGraph
from digpy.core.workflow.tree import compile_workflow

from ...statemachine_driver import find, ready_names


def workflow(text: str):
    return compile_workflow("wf", load_text(text, "wf.dig"))


def attempt(text: str, *, start: float = 1000.0) -> AttemptGraph:
    """A started attempt whose `sla:` (if any) counts from `start`."""
    wf = workflow(text)
    graph = AttemptGraph.new(wf.tasks, start)
    if wf.sla is not None:
        graph.attempt_sla = (wf.sla, wf.sla.deadline(start, wf.timezone))
    graph.start(start)
    return graph


def at(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


# ----------------------------------------------------------------------------- reading


def test_duration_and_time_are_read_in_digdags_forms_and_ours():
    sla = workflow("sla:\n  duration: 01:30\n+a: {echo>: a}\n").sla
    assert (sla.seconds, sla.alert, sla.fail, sla.written) == (5400, True, False, "within 01:30")
    assert workflow("sla:\n  duration: 00:00:05\n+a: {echo>: a}\n").sla.seconds == 5
    assert workflow("sla:\n  duration: 1h30m\n  fail: true\n  alert: false\n+a: {echo>: a}\n").sla.seconds == 5400
    sla = workflow("sla:\n  time: 02:30\n+a: {echo>: a}\n").sla
    assert (sla.clock, sla.seconds, sla.written) == ((2, 30, 0), None, "by 02:30")
    task = find(AttemptGraph.new(workflow("+a:\n  sh>: x\n  _sla: 10m\n").tasks, 0), "+a")
    assert task.directives.sla.seconds == 600


@pytest.mark.parametrize(("text", "message"), [
    ("sla:\n  time: '24:00'\n", "wf.dig:2:9: +wf: sla time '24:00' is not a time of day"),
    ("sla:\n  duration: 1h\n  time: '01:00'\n", "wf.dig:2:3: +wf: sla needs either time or duration (not both)"),
    ("sla:\n  alert: true\n", "wf.dig:2:3: +wf: sla needs either time or duration"),
    ("sla:\n  duration: ${d}\n", "wf.dig:2:13: +wf: sla duration can't use ${...}"),
    ("sla:\n  duration: 1h\n  fail: yes\n", "wf.dig:3:9: +wf: sla fail must be true or false"),
    ("sla:\n  duration: 1h\n  notify: x\n", "wf.dig:3:3: +wf: sla has an unknown key 'notify'"),
    ("sla: 1h\n", "wf.dig:1:6: +wf: sla must be a mapping"),
    ("+a:\n  echo>: x\n  _sla:\n    time: '01:00'\n", "wf.dig:4:5: +wf+a: _sla takes a duration, not a time of day"),
    ("+a:\n  echo>: x\n  _sla: soon\n", "wf.dig:3:9: +wf+a: _sla 'soon' is not a duration"),
    ("+a:\n  echo>: x\n  _sla: '00:75'\n", "wf.dig:3:9: +wf+a: _sla '00:75' is not a duration"),
    ("+a:\n  echo>: x\n  _sla: 0s\n", "wf.dig:3:9: +wf+a: _sla must be longer than 0 seconds"),
    ("sla:\n  duration: 1h\n  +n:\n    nope>: x\n", "wf.dig:4:5: unknown operator 'nope>'"),
])
def test_a_bad_sla_is_a_located_error_when_the_workflow_loads(text, message):
    with pytest.raises(ConfigError) as raised:
        compile_workflow("wf", load_text(text + "+z: {echo>: z}\n", "wf.dig"), operators={"echo", "sh"})
    assert str(raised.value).startswith(message)


def test_a_time_is_the_first_such_time_of_day_at_or_after_the_start_in_the_workflows_zone():
    sla = workflow("sla:\n  time: 02:00\n+a: {echo>: a}\n").sla
    tokyo = "Asia/Tokyo"
    assert sla.deadline(at("2026-03-01T01:00", tokyo), tokyo) == at("2026-03-01T02:00", tokyo)
    assert sla.deadline(at("2026-03-01T02:00", tokyo), tokyo) == at("2026-03-01T02:00", tokyo)
    assert sla.deadline(at("2026-03-01T02:00:01", tokyo), tokyo) == at("2026-03-02T02:00", tokyo)
    # The next day is a calendar day: across the fall-back change 02:30 is 24.5 hours after the
    # previous day's 03:00 (not 02:30 + 24 h, which is 01:30 there); a 02:30 that the spring-forward
    # change skips counts as the end of the gap, 03:30.
    ny = "America/New_York"
    sla = workflow("sla:\n  time: 02:30\n+a: {echo>: a}\n").sla
    assert sla.deadline(at("2026-10-31T03:00", ny), ny) - at("2026-10-31T03:00", ny) == 24.5 * 3600
    assert sla.deadline(at("2026-03-07T03:00", ny), ny) == at("2026-03-08T03:30", ny)


# ----------------------------------------------------------------------------- the state machine


def test_an_attempt_over_its_sla_gets_the_sla_tasks_and_runs_on():
    g = attempt("sla:\n  duration: 60\n  +notice:\n    echo>: late\n+a: {sh>: slow}\n+b: {echo>: b}\n")
    a = g.take_ready()
    g.mark_running(a, 1000)
    assert g.next_wake() == 1060, "the runner sleeps until the deadline"
    g.wake(1059.9)
    assert g.take_sla_misses() == []
    g.wake(1060)
    misses = g.take_sla_misses()
    assert [(m.task.full_name, m.deadline, m.message) for m in misses] == [("+wf", 1060, "+wf did not finish within 60")]
    assert g.root.flags & SLA_MISSED
    assert ready_names(g) == ["+wf^sla+notice"]
    assert find(g, "^sla").parent_id == g.root_id
    notice = g.take_ready()
    g.mark_running(notice, 1060)
    g.succeed(notice, TaskResult(), 1060)
    g.succeed(a, TaskResult(), 1070)
    b = g.take_ready()
    g.mark_running(b, 1070)
    g.succeed(b, TaskResult(), 1070)
    assert g.root.state == TaskState.SUCCESS, "fail: false: the attempt succeeds"
    g.wake(5000)
    assert g.take_sla_misses() == [], "missed once"


def test_fail_true_fails_the_attempt_once_its_running_tasks_are_done():
    g = attempt("sla:\n  duration: 60\n  fail: true\n  alert: false\n+a: {sh>: slow}\n_error:\n  echo>: ${error.message}\n")
    a = g.take_ready()
    g.mark_running(a, 1000)
    g.wake(1061)
    [miss] = g.take_sla_misses()
    assert not miss.sla.alert
    sla_group = find(g, "+wf^sla")
    assert sla_group.state == TaskState.ERROR
    assert sla_group.error == {"message": "SLA missed: +wf did not finish within 60"}
    assert g.root.state == TaskState.PLANNED, "the running task is not stopped"
    g.succeed(a, TaskResult(), 1100)
    error_task = find(g, "^error")
    assert error_task.state == TaskState.READY, "the workflow's _error runs"
    assert find(g, "+wf^error").export_params["error"] == {"message": "SLA missed: +wf did not finish within 60"}
    g.mark_running(error_task, 1100)
    g.succeed(error_task, TaskResult(), 1100)
    assert g.root.state == TaskState.GROUP_ERROR


def test_an_attempt_that_ends_in_time_misses_nothing():
    g = attempt("sla:\n  duration: 60\n+a: {echo>: a}\n")
    a = g.take_ready()
    g.mark_running(a, 1000)
    g.succeed(a, TaskResult(), 1010)
    assert g.done and g.next_wake() is None
    g.wake(2000)
    assert g.take_sla_misses() == []


def test_a_time_sla_counts_from_the_attempts_start_in_its_zone():
    start = at("2026-03-01T01:59:00", "Asia/Tokyo")
    g = attempt("timezone: Asia/Tokyo\nsla:\n  time: 02:00\n+a: {sh>: slow}\n", start=start)
    g.mark_running(g.take_ready(), start)
    assert g.next_wake() == start + 60


def test_a_task_sla_counts_from_the_tasks_first_start_and_its_retries_count():
    g = attempt("+a:\n  sh>: x\n+b:\n  sh>: slow\n  _retry: 3\n  _sla:\n    duration: 00:01:00\n    +late:\n"
                "      echo>: ${task_name}\n")
    a = g.take_ready()
    g.mark_running(a, 1000)
    g.succeed(a, TaskResult(), 1000)
    assert g.next_wake() is None, "nothing is watched before +b starts"
    b = g.take_ready()
    g.mark_running(b, 1030)
    assert g.next_wake() == 1090
    g.fail(b, {"message": "x"}, 1040)  # retried: still the same task, still watched from 1030
    g.wake(1090)
    [miss] = g.take_sla_misses()
    assert (miss.task.full_name, miss.message) == ("+wf+b", "+wf+b did not finish within 00:01:00")
    assert b.flags & SLA_MISSED
    late = find(g, "+wf+b^sla+late")
    assert late.state == TaskState.READY and find(g, "+wf+b^sla").parent_id == g.root_id


def test_a_group_sla_counts_from_when_the_group_starts():
    g = attempt("+a: {sh>: x}\n+g:\n  _sla: 30s\n  +x: {sh>: slow}\n")
    a = g.take_ready()
    g.mark_running(a, 1000)
    g.succeed(a, TaskResult(), 1010)
    group = find(g, "+g")
    assert (group.state, group.started_at) == (TaskState.PLANNED, 1010)
    x = g.take_ready()
    g.mark_running(x, 1010)
    g.wake(1040)
    assert [m.task.full_name for m in g.take_sla_misses()] == ["+wf+g"]


def test_a_killed_attempt_misses_no_sla():
    g = attempt("sla:\n  duration: 60\n+a: {sh>: slow}\n")
    a = g.take_ready()
    g.mark_running(a, 1000)
    assert g.request_cancel(1010) == [a]
    g.wake(1100)
    assert g.take_sla_misses() == [] and not any(t.name == "^sla" for t in g.tasks.values())


def test_a_stored_attempt_keeps_watching_and_never_misses_twice():
    g = attempt("sla:\n  duration: 60\n+a: {sh>: slow}\n+b:\n  _sla: 10s\n  sh>: slow\n")
    a = g.take_ready()
    g.mark_running(a, 1000)
    stored = [_copy(t) for t in g.tasks.values()]  # another node takes the attempt over
    loaded = AttemptGraph.load(stored, 1020)
    wf = workflow("sla:\n  duration: 60\n+a: {sh>: slow}\n+b:\n  _sla: 10s\n  sh>: slow\n")
    loaded.attempt_sla = (wf.sla, 1060)
    loaded.start(1020)
    assert loaded.next_wake() == 1060
    loaded.wake(1060)
    assert [m.task.full_name for m in loaded.take_sla_misses()] == ["+wf"]
    again = AttemptGraph.load([_copy(t) for t in loaded.tasks.values()], 1070)
    again.attempt_sla = (wf.sla, 1060)
    again.start(1070)
    again.wake(1100)
    assert again.take_sla_misses() == [], "the root's flag is stored"
    a = again.take_ready()
    again.mark_running(a, 1100)
    again.succeed(a, TaskResult(), 1100)
    b = again.take_ready()
    again.mark_running(b, 1100)
    third = AttemptGraph.load([_copy(t) for t in again.tasks.values()], 1105)
    assert third.next_wake() == 1110, "a task's deadline comes from its stored start"


def test_the_tasks_of_an_sla_are_never_skipped_by_a_resume():
    plan = ResumePlan({"+wf^sla+notice": ActionRecord({}, {}, [], None), "+wf+a": ActionRecord({}, {}, [], None)})
    assert plan.record_for("+wf+a") is not None
    assert plan.record_for("+wf^sla+notice") is None


def test_sla_misses_are_persisted_changes():
    g = attempt("sla:\n  duration: 60\n+a: {sh>: slow}\n")
    g.mark_running(g.take_ready(), 1000)
    g.take_changes()
    g.wake(1060)
    created, changed = g.take_changes()
    assert [t.full_name for t in created] == ["+wf^sla"]
    assert g.root in changed and g.root.flags & SLA_MISSED
    assert not g.root.flags & TaskFlags.DELAYED_ERROR


def _copy(task):
    from digpy.core.workflow.model import Task

    return Task(
        id=task.id, parent_id=task.parent_id, name=task.name, full_name=task.full_name, is_group=task.is_group,
        config=task.config, export=task.export, upstreams=list(task.upstreams), state=task.state,
        flags=task.flags, retry_count=task.retry_count, retry_at=task.retry_at, started_at=task.started_at,
        updated_at=task.updated_at, state_params=dict(task.state_params), store_params=dict(task.store_params),
        export_params=dict(task.export_params), reset_store=list(task.reset_store),
        subtask_config=task.subtask_config, error=task.error,
    )
