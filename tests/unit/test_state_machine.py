"""Every edge of the task state machine, driven without a runner."""

from __future__ import annotations

from digpy.core.spi import TaskResult
from digpy.core.workflow.model import TaskFlags, TaskState
from digpy.core.workflow.state_machine import SUPERSEDED, AttemptGraph

from .statemachine_driver import drive, fail, find, graph_of, ready_names, resolve


def test_sequential_group_runs_children_in_order():
    g = graph_of("+a: {echo>: a}\n+b: {echo>: b}\n+c: {echo>: c}\n")
    assert g.root.state == TaskState.PLANNED
    assert ready_names(g) == ["+wf+a"]
    assert find(g, "+b").state == TaskState.BLOCKED
    assert drive(g) == ["+wf+a", "+wf+b", "+wf+c"]
    assert g.root.state == TaskState.SUCCESS


def test_groups_go_straight_from_blocked_to_planned():
    g = graph_of("+g:\n  +x: {echo>: x}\n+h:\n  +y: {echo>: y}\n")
    assert find(g, "+g").state == TaskState.PLANNED
    assert find(g, "+h").state == TaskState.BLOCKED
    assert drive(g) == ["+wf+g+x", "+wf+h+y"]
    assert all(t.state == TaskState.SUCCESS for t in g.tasks.values())


def test_empty_group_succeeds_as_a_no_op():
    g = graph_of("+empty: {}\n+after: {echo>: x}\n")
    assert find(g, "+empty").state == TaskState.SUCCESS
    assert drive(g) == ["+wf+after"]


def test_parallel_children_are_all_ready_at_once():
    g = graph_of("_parallel: true\n+a: {echo>: a}\n+b: {echo>: b}\n+c: {echo>: c}\n")
    assert ready_names(g) == ["+wf+a", "+wf+b", "+wf+c"]


def test_parallel_limit_cuts_children_into_batches():
    g = graph_of("_parallel: {limit: 2}\n" + "".join(f"+t{i}: {{echo>: x}}\n" for i in range(5)))
    assert ready_names(g) == ["+wf+t0", "+wf+t1"]
    t0 = g.take_ready()
    g.mark_running(t0, 0)
    g.succeed(t0, TaskResult(), 0)
    assert ready_names(g) == ["+wf+t1"], "batch 2 waits for the whole of batch 1"
    t1 = g.take_ready()
    g.mark_running(t1, 0)
    g.succeed(t1, TaskResult(), 0)
    assert ready_names(g) == ["+wf+t2", "+wf+t3"]
    assert find(g, "+t4").upstreams == [find(g, "+t2").id, find(g, "+t3").id]


def test_background_task_starts_with_its_parent_and_the_next_waits_for_it():
    g = graph_of("+a: {echo>: a}\n+bg: {echo>: bg, _background: true}\n+c: {echo>: c}\n")
    assert ready_names(g) == ["+wf+a", "+wf+bg"]
    c = find(g, "+c")
    assert sorted(c.upstreams) == sorted([find(g, "+a").id, find(g, "+bg").id])


def test_after_makes_a_parallel_child_wait_for_named_siblings():
    g = graph_of("_parallel: true\n+a: {echo>: a}\n+b: {echo>: b}\n+c: {echo>: c, _after: [+a]}\n")
    assert ready_names(g) == ["+wf+a", "+wf+b"]
    assert find(g, "+c").upstreams == [find(g, "+a").id]


def test_a_failure_lets_running_siblings_finish_and_never_starts_dependents():
    g = graph_of("+p:\n  _parallel: true\n  +ok: {echo>: 1}\n  +bad: {fail>: x}\n+after: {echo>: never}\n")
    ok, bad = g.take_ready(), g.take_ready()
    g.mark_running(ok, 0)
    g.mark_running(bad, 0)
    g.fail(bad, fail("x"), 0)
    assert bad.state == TaskState.ERROR
    assert find(g, "+p").state == TaskState.PLANNED, "the group waits for its running child"
    g.succeed(ok, TaskResult(), 1)
    assert find(g, "+p").state == TaskState.GROUP_ERROR
    assert find(g, "+after").state == TaskState.BLOCKED
    assert g.root.state == TaskState.GROUP_ERROR
    assert g.done


def test_blocked_tasks_behind_a_failure_stay_blocked_and_the_group_ends():
    g = graph_of("+a: {fail>: x}\n+b: {echo>: b}\n+c: {echo>: c}\n")
    assert drive(g, {"+a": fail()}) == ["+wf+a"]
    assert find(g, "+b").state == TaskState.BLOCKED and find(g, "+c").state == TaskState.BLOCKED
    assert g.root.state == TaskState.GROUP_ERROR


def test_error_task_of_an_operator_runs_then_the_task_ends_in_error():
    g = graph_of("+a:\n  fail>: boom\n  _error:\n    echo>: handled\n+b: {echo>: b}\n")
    order = drive(g, {"+a": fail("boom")})
    assert order == ["+wf+a", "+wf+a^error"]
    handler = find(g, "^error")
    assert handler.export_params["error"]["message"] == "boom", "given as data, not as _export"
    assert find(g, "+a").state == TaskState.ERROR
    assert find(g, "+a").flags & TaskFlags.DELAYED_ERROR
    assert g.root.state == TaskState.GROUP_ERROR


def test_error_tasks_run_innermost_first():
    g = graph_of(
        "_error: {echo>: root}\n+g:\n  _error: {echo>: group}\n  +t:\n    fail>: x\n    _error: {echo>: task}\n"
    )
    order = drive(g, {"+t": fail("x")})
    assert order == ["+wf+g+t", "+wf+g+t^error", "+wf+g^error", "+wf^error"]
    assert find(g, "+g").state == TaskState.GROUP_ERROR
    assert g.root.state == TaskState.GROUP_ERROR


def test_group_error_task_sees_the_descendants_errors_and_stores():
    g = graph_of("+g:\n  _error: {echo>: x}\n  +s: {echo>: s}\n  +t: {fail>: x}\n")
    drive(g, {"+s": TaskResult(stores={"k": 1}), "+t": fail("last words")})
    export = find(g, "+g^error").export_params
    assert export["error"]["message"] == "last words"
    assert export["k"] == 1


def test_check_runs_after_generated_children():
    g = graph_of("+a:\n  echo>: x\n  _check: {echo>: checked}\n")
    order = drive(g, {"+a": TaskResult(subtasks={"+c1": {"echo>": 1}, "+c2": {"echo>": 2}})})
    assert order == ["+wf+a", "+wf+a^sub+c1", "+wf+a^sub+c2", "+wf+a^check"]
    assert find(g, "+a").state == TaskState.SUCCESS


def test_a_failing_check_makes_the_task_group_error_and_runs_its_error_task():
    g = graph_of("+a:\n  echo>: x\n  _check: {fail>: bad}\n  _error: {echo>: e}\n")
    order = drive(g, {"^check": fail("bad")})
    assert order == ["+wf+a", "+wf+a^check", "+wf+a^error"]
    assert find(g, "+a").state == TaskState.GROUP_ERROR


def test_check_on_a_group_runs_after_its_children():
    g = graph_of("+g:\n  _check: {echo>: c}\n  +x: {echo>: x}\n")
    assert drive(g) == ["+wf+g+x", "+wf+g^check"]
    assert find(g, "+g").state == TaskState.SUCCESS


def test_operator_retry_waits_and_counts():
    g = graph_of("+a:\n  sh>: x\n  _retry: {limit: 2, interval: 10}\n")
    attempts = []

    def flaky(task):
        attempts.append(task.retry_count)
        return fail("again") if len(attempts) < 3 else None

    order = drive(g, {"+a": flaky})
    assert order == ["+wf+a"] * 3
    assert attempts == [0, 1, 2]
    assert find(g, "+a").state == TaskState.SUCCESS


def test_retry_with_exit_codes_retries_only_those_codes():
    g = graph_of("+a:\n  sh>: x\n  _retry: {limit: 3, exit_code: [7]}\n")
    a = g.take_ready()
    g.mark_running(a, 0)
    g.fail(a, {"message": "Command failed with code 7", "exit_code": 7}, 0)
    assert a.state == TaskState.RETRY_WAITING and a.retry_count == 1
    g.wake(0)
    g.take_ready()
    g.mark_running(a, 0)
    g.fail(a, {"message": "Command failed with code 9", "exit_code": 9}, 0)
    assert a.state == TaskState.ERROR, "9 is not a code to retry"


def test_retry_waiting_holds_until_retry_at():
    g = graph_of("+a:\n  sh>: x\n  _retry: {limit: 3, interval: 10, interval_type: exponential, max_interval: 25}\n")
    a = g.take_ready()
    g.mark_running(a, 0)
    g.fail(a, fail(), 0)
    assert a.state == TaskState.RETRY_WAITING and a.retry_at == 10
    g.wake(9.9)
    assert a.state == TaskState.RETRY_WAITING
    g.wake(10)
    assert a.state == TaskState.READY
    g.take_ready()
    g.mark_running(a, 10)
    g.fail(a, fail(), 10)
    assert a.retry_at == 30, "exponential: 10 * 2^1"
    g.wake(30)
    g.take_ready()
    g.mark_running(a, 30)
    g.fail(a, fail(), 30)
    assert a.retry_at == 55, "capped by max_interval (25)"
    g.wake(55)
    g.take_ready()
    g.mark_running(a, 55)
    g.fail(a, fail("final"), 55)
    assert a.state == TaskState.ERROR and a.error == {"message": "final"}


def test_retry_backoff_multiplies_each_wait_by_its_factor():
    g = graph_of("+a:\n  sh>: x\n  _retry: {limit: 3, interval: 10, backoff: 1.5}\n")
    now = 0.0
    waits = []
    for _ in range(3):
        a = g.take_ready()
        g.mark_running(a, now)
        g.fail(a, fail(), now)
        waits.append(a.retry_at - now)
        now = a.retry_at
        g.wake(now)
    assert waits == [10, 15, 22.5]


def test_error_task_runs_only_after_retries_are_exhausted():
    g = graph_of("+a:\n  sh>: x\n  _retry: 1\n  _error: {echo>: e}\n")
    order = drive(g, {"+a": fail()})
    assert order == ["+wf+a", "+wf+a", "+wf+a^error"]


def test_group_retry_recreates_the_children():
    g = graph_of("+g:\n  _retry: 1\n  +x: {echo>: x}\n  +y: {fail>: y}\n")
    calls = []

    def y(task):
        calls.append(task.id)
        return fail() if len(calls) == 1 else None

    order = drive(g, {"+y": y})
    assert order == ["+wf+g+x", "+wf+g+y", "+wf+g+x", "+wf+g+y"]
    group = find(g, "+g")
    assert group.state == TaskState.SUCCESS and group.retry_count == 1
    copies = [t for t in g.tasks.values() if t.full_name == "+wf+g+y"]
    assert len(copies) == 2
    assert copies[0].state == TaskState.ERROR and copies[0].flags & SUPERSEDED
    assert copies[1].state == TaskState.SUCCESS
    assert group.children == [find(g, "+g+x").id, copies[1].id]


def test_operator_with_generated_children_reruns_when_a_child_fails():
    g = graph_of("+loop:\n  echo>: gen\n  _retry: 1\n")
    runs = []

    def generate(task):
        runs.append(task.id)
        return TaskResult(subtasks={"+c": {"fail>" if len(runs) == 1 else "echo>": "x"}})

    order = drive(g, {"+loop": generate, "^sub+c": lambda t: fail() if t.config["_type"] == "fail" else None})
    assert order == ["+wf+loop", "+wf+loop^sub+c", "+wf+loop", "+wf+loop^sub+c"]
    assert find(g, "+loop").state == TaskState.SUCCESS


def test_poll_later_parks_the_task_without_using_a_retry():
    g = graph_of("+w: {wait>: 1m}\n+next: {echo>: n}\n")
    seen = []

    def poller(task):
        seen.append(dict(task.state_params))
        if len(seen) < 3:
            return TaskResult.poll(30, {"round": len(seen)})
        return None

    order = drive(g, {"+w": poller})
    assert order == ["+wf+w"] * 3 + ["+wf+next"]
    assert seen == [{}, {"round": 1}, {"round": 2}]
    assert find(g, "+w").retry_count == 0


def test_cancel_stops_everything_and_ends_canceled():
    g = graph_of("+p:\n  _parallel: true\n  +run: {sh>: x}\n  +queued: {sh>: y}\n+later: {echo>: z}\n")
    running = g.take_ready()
    g.mark_running(running, 0)
    to_stop = g.request_cancel(1)
    assert to_stop == [running]
    assert find(g, "+queued").state == TaskState.CANCELED
    g.canceled(running, 2)
    assert find(g, "+p").state == TaskState.CANCELED
    assert find(g, "+later").state == TaskState.BLOCKED
    assert g.root.state == TaskState.CANCELED
    assert g.take_ready() is None


def test_a_cancel_task_runs_once_the_canceled_group_has_stopped():
    g = graph_of("_cancel:\n  +notify: {sh>: n}\n  +cleanup: {sh>: c}\n+run: {sh>: x}\n+later: {sh>: y}\n")
    running = g.take_ready()
    g.mark_running(running, 0)
    assert g.request_cancel(1) == [running]
    assert g.take_ready() is None, "nothing runs before the running task has stopped"
    g.canceled(running, 2)
    notify = g.take_ready()
    assert notify.full_name == "+wf^cancel+notify" and g.root.state == TaskState.PLANNED
    g.mark_running(notify, 3)
    g.succeed(notify, TaskResult(), 4)
    cleanup = g.take_ready()
    assert cleanup.full_name == "+wf^cancel+cleanup"
    g.mark_running(cleanup, 5)
    g.succeed(cleanup, TaskResult(), 6)
    assert find(g, "+later").state != TaskState.SUCCESS
    assert g.root.state == TaskState.CANCELED and g.take_ready() is None


def test_cancel_of_a_waiting_retry():
    g = graph_of("+a:\n  sh>: x\n  _retry: {limit: 5, interval: 60}\n")
    a = g.take_ready()
    g.mark_running(a, 0)
    g.fail(a, fail(), 0)
    g.request_cancel(1)
    assert a.state == TaskState.CANCELED and g.root.state == TaskState.CANCELED


def test_tasks_generated_under_a_cancel_requested_task_are_canceled():
    g = graph_of("+a: {echo>: x}\n")
    a = g.take_ready()
    g.mark_running(a, 0)
    g.request_cancel(0)
    g.succeed(a, TaskResult(subtasks={"+c": {"echo>": 1}}), 1)
    assert find(g, "^sub").state == TaskState.CANCELED
    assert find(g, "^sub+c").state == TaskState.BLOCKED, "never reached, never run"
    assert g.take_ready() is None
    assert g.root.state == TaskState.CANCELED


def test_disabled_and_no_op_tasks_succeed_without_running():
    text = "+a: {echo>: a, _disable: true}\n+b: {echo>: b}\n+c: {echo>: c}\n"
    g = graph_of(text)
    assert drive(g) == ["+wf+b", "+wf+c"]
    from digpy.core.language.dig.loader import load_text
    from digpy.core.workflow.tree import compile_workflow

    specs = compile_workflow("wf", load_text(text)).tasks
    g2 = AttemptGraph.new(specs, 0)
    g2.no_op_names = frozenset({"+wf+c"})
    g2.start(0)
    assert drive(g2) == ["+wf+b"]
    assert find(g2, "+c").state == TaskState.SUCCESS


def test_generated_children_that_do_not_compile_fail_the_task():
    g = graph_of("+a: {echo>: x}\n")
    drive(g, {"+a": TaskResult(subtasks={"+bad name": {"echo>": 1}})})
    a = find(g, "+a")
    assert a.state == TaskState.ERROR and "invalid generated tasks" in a.error["message"]


def test_a_stored_attempt_resumes_where_it_stopped():
    g = graph_of("+a: {echo>: a}\n+b: {sh>: b}\n+c: {echo>: c}\n")
    a = g.take_ready()
    g.mark_running(a, 0)
    g.succeed(a, TaskResult(stores={"x": 1}), 0)
    b = g.take_ready()
    g.mark_running(b, 1)
    stored = [_copy(t) for t in g.tasks.values()]  # what the database holds when the node dies
    loaded = AttemptGraph.load(stored, 5)
    assert find(loaded, "+b").state == TaskState.READY, "a task that was running runs again"
    assert drive(loaded) == ["+wf+b", "+wf+c"]
    assert loaded.root.state == TaskState.SUCCESS


def test_a_stored_attempt_with_a_failure_resumes_with_dead_tasks():
    g = graph_of("_parallel: true\n+a: {fail>: x}\n+b: {echo>: b, _after: [+a]}\n+c: {sh>: c}\n")
    a, c = g.take_ready(), g.take_ready()
    g.mark_running(a, 0)
    g.mark_running(c, 0)
    g.fail(a, fail(), 0)
    loaded = AttemptGraph.load([_copy(t) for t in g.tasks.values()], 1)
    assert find(loaded, "+b").dead
    assert drive(loaded) == ["+wf+c"]
    assert loaded.root.state == TaskState.GROUP_ERROR


def test_changes_are_reported_once_for_persistence():
    g = graph_of("+a: {echo>: a}\n")
    created, changed = g.take_changes()
    assert [t.full_name for t in created] == ["+wf", "+wf+a"]
    assert changed == []
    a = g.take_ready()
    g.mark_running(a, 0)
    assert g.take_changes() == ([], [a])
    assert g.take_changes() == ([], [])


def test_one_hundred_thousand_children_run_in_linear_time():
    g = graph_of("+loop: {echo>: x}\n")
    subtasks = {f"+loop-{i}": {"echo>": i} for i in range(100_000)}
    subtasks["_parallel"] = True
    order = drive(g, {"+loop": TaskResult(subtasks=subtasks)}, limit=200_010)
    assert len(order) == 100_001
    assert g.root.state == TaskState.SUCCESS


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


def test_resolve_helper_accepts_results():
    g = graph_of("+a: {echo>: x}\n")
    a = g.take_ready()
    g.mark_running(a, 0)
    resolve(g, a, None, 0)
    assert g.root.state == TaskState.SUCCESS
