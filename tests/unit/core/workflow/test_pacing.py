"""A group's `_parallel: {running: N}`, `_start_interval` and `_timeout`: reading them, and what the
state machine does with them, driven with an explicit clock (no runner, no waiting)."""

from __future__ import annotations

import copy

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.dig.loader import load_text
from digpy.core.spi import TaskResult
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.state_machine import AttemptGraph
from digpy.core.workflow.tree import compile_workflow

from ...statemachine_driver import find


def attempt(text: str, *, start: float = 0.0) -> AttemptGraph:
    graph = AttemptGraph.new(compile_workflow("wf", load_text(text, "wf.dig")).tasks, start)
    graph.start(start)
    return graph


def take_all(graph: AttemptGraph, now: float) -> list[str]:
    """Mark every ready task running; their short names."""
    names = []
    while (task := graph.take_ready()) is not None:
        graph.mark_running(task, now)
        names.append(task.name)
    return names


def succeed(graph: AttemptGraph, name: str, now: float) -> None:
    graph.succeed(find(graph, name), TaskResult(), now)


FOUR = "+a: {sh>: a}\n+b: {sh>: b}\n+c: {sh>: c}\n+d: {sh>: d}\n"


# ----------------------------------------------------------------------------- reading


@pytest.mark.parametrize(("text", "message"), [
    ("_parallel: {running: 0}\n+a: {sh>: a}\n", "wf.dig:1:12: _parallel running must be a whole number > 0, got 0"),
    ("_parallel: {running: 2, limit: 2}\n+a: {sh>: a}\n",
     "wf.dig:1:12: _parallel must be true, false, {limit: N} or {running: N}, got {'running': 2, 'limit': 2}"),
    ("_timeout: 0\n+a: {sh>: a}\n", "wf.dig:1:11: +wf: _timeout is a number of seconds (> 0)"),
    ("+g:\n  _start_interval: soon\n  +a: {sh>: a}\n",
     "wf.dig:2:20: +wf+g: _start_interval is a number of seconds (> 0)"),
    ("+a:\n  sh>: a\n  _start_interval: 1\n", "wf.dig:3:3: +wf+a: _start_interval is for groups and the workflow"),
])
def test_bad_values_are_located_errors(text, message):
    with pytest.raises(ConfigError) as e:
        compile_workflow("wf", load_text(text, "wf.dig"))
    assert str(e.value).startswith(message), str(e.value)


def test_the_directives_are_read_once_and_survive_a_reload():
    graph = attempt("_parallel: {running: 2}\n_start_interval: 1.5\n_timeout: 60\n" + FOUR)
    directives = graph.root.directives
    assert (directives.running, directives.start_interval, directives.timeout) == (2, 1.5, 60.0)
    reloaded = AttemptGraph.load(copy.deepcopy(list(graph.tasks.values())), 0.0)
    directives = reloaded.root.directives
    assert (directives.running, directives.start_interval, directives.timeout) == (2, 1.5, 60.0)


# ----------------------------------------------------------------------------- running: N


def test_running_starts_the_next_child_as_soon_as_one_ends():
    graph = attempt("_parallel: {running: 2}\n" + FOUR)
    assert take_all(graph, 0) == ["+a", "+b"]
    succeed(graph, "+b", 1)
    assert take_all(graph, 1) == ["+c"]  # +a still runs: no batch waits for it
    succeed(graph, "+c", 2)
    assert take_all(graph, 2) == ["+d"]
    succeed(graph, "+a", 3)
    succeed(graph, "+d", 3)
    assert graph.done and graph.root.state == TaskState.SUCCESS


def test_limit_still_runs_batches():
    graph = attempt("_parallel: {limit: 2}\n" + FOUR)
    assert take_all(graph, 0) == ["+a", "+b"]
    succeed(graph, "+b", 1)
    assert take_all(graph, 1) == []  # +c waits for the whole first batch (Digdag)


def test_a_child_that_does_not_start_takes_no_slot():
    graph = attempt("_parallel: {running: 1}\n+a: {sh>: a, _disable: true}\n+b: {sh>: b}\n+c: {sh>: c}\n")
    assert take_all(graph, 0) == ["+b"]
    succeed(graph, "+b", 1)
    assert take_all(graph, 1) == ["+c"]


def test_a_slot_is_held_by_a_child_group_until_its_subtree_is_done():
    graph = attempt("_parallel: {running: 1}\n+g:\n  +x: {sh>: x}\n  +y: {sh>: y}\n+h: {sh>: h}\n")
    assert take_all(graph, 0) == ["+x"]
    succeed(graph, "+x", 1)
    assert take_all(graph, 1) == ["+y"]
    succeed(graph, "+y", 2)
    assert take_all(graph, 2) == ["+h"]


def test_a_failed_child_frees_its_slot():
    graph = attempt("_parallel: {running: 1}\n" + FOUR)
    assert take_all(graph, 0) == ["+a"]
    graph.fail(find(graph, "+a"), {"message": "boom"}, 1)
    assert take_all(graph, 1) == ["+b"]  # siblings without _after still run, as in any parallel group


def test_cancel_ends_the_children_waiting_for_a_slot():
    graph = attempt("_parallel: {running: 1}\n" + FOUR)
    assert take_all(graph, 0) == ["+a"]
    running = graph.request_cancel(1)
    assert [t.name for t in running] == ["+a"]
    graph.canceled(find(graph, "+a"), 2)
    assert graph.done and graph.root.state == TaskState.CANCELED
    assert {find(graph, n).state for n in ("+b", "+c", "+d")} == {TaskState.CANCELED}


def test_a_reloaded_attempt_keeps_the_slots_of_its_started_children():
    graph = attempt("_parallel: {running: 2}\n" + FOUR)
    assert take_all(graph, 0) == ["+a", "+b"]
    graph = AttemptGraph.load(copy.deepcopy(list(graph.tasks.values())), 5.0)
    assert take_all(graph, 5) == ["+a", "+b"]  # running when the runner stopped: ready again, same slots
    succeed(graph, "+a", 6)
    assert take_all(graph, 6) == ["+c"]


# ----------------------------------------------------------------------------- _start_interval


def test_start_interval_spaces_independent_children():
    graph = attempt("_parallel: true\n_start_interval: 2\n+a: {sh>: a}\n+b: {sh>: b}\n+c: {sh>: c}\n", start=100)
    assert take_all(graph, 100) == ["+a"]
    assert graph.next_wake() == 102
    graph.wake(101)
    assert take_all(graph, 101) == []
    graph.wake(102)
    assert take_all(graph, 102) == ["+b"]
    assert graph.next_wake() == 104
    graph.wake(104)
    assert take_all(graph, 104) == ["+c"]
    assert graph.next_wake() is None


def test_start_interval_in_a_chain_counts_from_the_previous_start():
    # Dagu 1.30.2 with delaySec: 2: a runs 3 s, b starts when a ends (3 s); b runs 1 s, c starts at 5 s.
    graph = attempt("_start_interval: 2\n+a: {sh>: a}\n+b: {sh>: b}\n+c: {sh>: c}\n")
    assert take_all(graph, 0) == ["+a"]
    succeed(graph, "+a", 3)
    assert take_all(graph, 3) == ["+b"]
    succeed(graph, "+b", 4)
    assert take_all(graph, 4) == [] and graph.next_wake() == 5
    graph.wake(5)
    assert take_all(graph, 5) == ["+c"]


def test_groups_without_pacing_have_no_gate_and_no_timer():
    graph = attempt("_parallel: true\n" + FOUR)
    assert take_all(graph, 0) == ["+a", "+b", "+c", "+d"]
    assert graph._gates == {} and graph.next_wake() is None


# ----------------------------------------------------------------------------- _timeout


def test_a_group_timeout_cancels_its_tasks_then_runs_its_error_task_and_fails():
    graph = attempt("""\
+g:
  _timeout: 10
  _parallel: {running: 1}
  _error:
    echo>: ${error.message}
  +a: {sh>: a}
  +b: {sh>: b}
+after: {sh>: after}
""")
    assert take_all(graph, 0) == ["+a"]
    assert graph.next_wake() == 10
    graph.wake(10)
    stop = graph.take_to_stop()
    assert [t.name for t in stop] == ["+a"]
    assert find(graph, "+b").state == TaskState.CANCELED  # it waited for a slot: it never starts
    graph.canceled(stop[0], 10.5)
    error_task = graph.take_ready()
    assert error_task is not None and error_task.full_name == "+wf+g^error"
    graph.mark_running(error_task, 10.5)
    graph.succeed(error_task, TaskResult(), 11)
    group = find(graph, "+wf+g")
    assert group.state == TaskState.ERROR and group.error == {"message": "timed out after 10 seconds (_timeout)"}
    assert graph.done and find(graph, "+after").state == TaskState.BLOCKED


def test_a_group_done_in_time_is_not_timed_out():
    graph = attempt("_timeout: 10\n+a: {sh>: a}\n")
    take_all(graph, 0)
    succeed(graph, "+a", 5)
    assert graph.done and graph.root.state == TaskState.SUCCESS and graph.next_wake() is None
    graph.wake(20)
    assert graph.take_to_stop() == [] and graph.root.state == TaskState.SUCCESS


def test_a_timeout_between_two_runs_of_a_group_retry_ends_it():
    graph = attempt("+g:\n  _timeout: 10\n  _retry: {limit: 3, interval: 60}\n  +a: {sh>: a}\n")
    take_all(graph, 0)
    graph.fail(find(graph, "+a"), {"message": "boom"}, 1)
    assert find(graph, "+wf+g").state == TaskState.GROUP_RETRY_WAITING
    graph.wake(10)
    assert find(graph, "+wf+g").state == TaskState.ERROR and graph.done


def test_a_reloaded_attempt_still_times_out():
    graph = attempt("_timeout: 10\n+a: {sh>: a}\n", start=100)
    take_all(graph, 100)
    graph = AttemptGraph.load(copy.deepcopy(list(graph.tasks.values())), 105)
    assert graph.next_wake() == 110
    graph.wake(110)
    assert graph.root.state == TaskState.ERROR  # `+a` was ready (not running) after the reload: canceled at once


def test_a_timeout_runs_the_cancel_task_of_a_group_inside_but_not_its_own():
    graph = attempt("""\
+outer:
  _timeout: 5
  _cancel: {echo>: outer canceled}
  +inner:
    _cancel: {echo>: inner canceled}
    +a: {sh>: a}
""")
    take_all(graph, 0)
    graph.wake(5)
    graph.canceled(graph.take_to_stop()[0], 5)
    assert take_all(graph, 5) == ["^cancel"]
    assert find(graph, "^cancel").full_name == "+wf+outer+inner^cancel"
    succeed(graph, "+inner^cancel", 6)
    assert find(graph, "+wf+outer").state == TaskState.ERROR and graph.done
    assert find(graph, "+wf+outer+inner").state == TaskState.CANCELED
