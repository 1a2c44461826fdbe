"""The runner (digpy.core.engine.runner) driving real attempts: an in-memory LocalStore, the real
plugin registry and built-in operators, real commands."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from digpy.core.engine.runner import NullOutput, RunSettings
from digpy.core.store.sql import LeaseLost
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.resume import ActionRecord, ResumePlan

PYTHON = sys.executable


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_tasks_run_in_order_and_each_state_is_stored_before_the_runner_acts_on_it(make_attempt):
    attempt = make_attempt("+a:\n  echo>: first\n+b:\n  sh>: echo second\n+c:\n  echo>: third on ${session_date}\n")
    assert attempt.run() == TaskState.SUCCESS
    out = attempt.output
    # One turn of the runner applies a's end and takes b: b is announced, then the batch that holds
    # both is stored, then a's end is told and b's command starts.
    assert out.events == [
        ("start", "+wf+a", "echo>: first"), ("output", "+wf+a", "first\n"),
        ("start", "+wf+b", "sh>: echo second"), ("end", "+wf+a", "success"), ("output", "+wf+b", "second\n"),
        ("start", "+wf+c", "echo>: third on 2026-01-31"), ("end", "+wf+b", "success"),
        ("output", "+wf+c", "third on 2026-01-31\n"), ("end", "+wf+c", "success"), ("end", "+wf", "success"),
    ]
    # An operator starts only once its task is stored as running; an end is told once it is stored.
    assert out.stored == [
        ("output", "+wf+a", "running"), ("end", "+wf+a", "success"),
        ("output", "+wf+b", "running"), ("end", "+wf+b", "success"),
        ("output", "+wf+c", "running"), ("end", "+wf+c", "success"), ("end", "+wf", "success"),
    ]
    assert attempt.stored_states() == attempt.states() == {
        "+wf": "success", "+wf+a": "success", "+wf+b": "success", "+wf+c": "success"}


def test_stores_of_a_task_are_stored_and_seen_by_the_next(make_attempt, tmp_path):
    (tmp_path / "steps.py").write_text("import digdag\n\ndef a():\n    digdag.env.store({'answer': 42})\n")
    attempt = make_attempt(f"+a:\n  py>: steps.a\n  python: {PYTHON}\n+b:\n  echo>: answer ${{answer}}\n")
    assert attempt.run() == TaskState.SUCCESS
    assert attempt.output.output_of("+b") == "answer 42\n"
    assert attempt.stored()["+wf+a"].store_params == {"answer": 42}


def test_a_failed_task_stores_its_error_and_blocks_what_follows(make_attempt, tmp_path):
    attempt = make_attempt("+a:\n  fail>: no data for ${session_date}\n+b:\n  sh>: touch b-ran\n")
    assert attempt.run() == TaskState.GROUP_ERROR
    stored = attempt.stored()
    assert stored["+wf+a"].state == TaskState.ERROR
    assert stored["+wf+a"].error == {"message": "no data for 2026-01-31"}
    assert stored["+wf+b"].state == TaskState.BLOCKED
    assert "+wf+b" not in {name for _, name in attempt.output.order()}
    assert not (tmp_path / "b-ran").exists()


def test_a_task_is_retried_as_its_retry_says_and_each_try_is_stored(make_attempt):
    attempt = make_attempt("+a:\n  _retry: 2\n  fail>: try ${task_name}\n")
    assert attempt.run() == TaskState.GROUP_ERROR
    starts = [name for kind, name in attempt.output.order() if kind == "start"]
    assert starts == ["+wf+a"] * 3
    stored = attempt.stored()["+wf+a"]
    assert (stored.state, stored.retry_count, stored.error) == (TaskState.ERROR, 2, {"message": "try +wf+a"})


def test_request_cancel_stops_the_running_command_and_starts_nothing_more(make_attempt, tmp_path):
    attempt = make_attempt('+a:\n  sh>: echo "pid $$$$"; exec sleep 60\n+b:\n  sh>: touch b-ran\n')

    async def cancel_while_a_runs():
        run = asyncio.ensure_future(attempt.runner.run())
        await asyncio.wait_for(attempt.output.printed.wait(), 30)
        attempt.runner.request_cancel()
        return await asyncio.wait_for(run, 30)

    root = asyncio.run(cancel_while_a_runs())
    assert root.state == TaskState.CANCELED
    pid = int(attempt.output.output_of("+a").split()[1])
    assert gone(pid), "the command was stopped (and reaped)"
    assert attempt.stored_states() == {"+wf": "canceled", "+wf+a": "canceled", "+wf+b": "blocked"}
    assert not (tmp_path / "b-ran").exists()


def test_a_dry_run_announces_every_task_and_runs_no_command(make_attempt, tmp_path):
    attempt = make_attempt("+a:\n  sh>: touch a-ran\n+b:\n  echo>: b at ${session_date}\n",
                           settings=RunSettings(dry_run=True))
    assert attempt.run() == TaskState.SUCCESS
    events = attempt.output.events
    assert [e for e in events if e[0] == "start"] == [
        ("start", "+wf+a", "sh>: touch a-ran"), ("start", "+wf+b", "echo>: b at 2026-01-31")]
    assert sorted(e for e in events if e[0] != "start") == [
        ("end", "+wf", "success"), ("end", "+wf+a", "success"), ("end", "+wf+b", "success")]
    assert not (tmp_path / "a-ran").exists()
    assert set(attempt.stored_states().values()) == {"success"}


def test_a_task_that_succeeded_earlier_is_skipped_and_its_result_replayed(make_attempt, tmp_path):
    earlier = {"+wf+a": ActionRecord(store_params={"x": "replayed"}, export_params={}, reset_store=[],
                                     subtask_config={"+s": {"echo>": "generated earlier"}})}
    attempt = make_attempt("+a:\n  sh>: touch a-ran\n+b:\n  echo>: b sees ${x}\n", plan=ResumePlan(earlier))
    assert attempt.run() == TaskState.SUCCESS
    assert not (tmp_path / "a-ran").exists()
    assert attempt.runner.skipped == 1
    assert attempt.output.events[0] == ("start", "+wf+a", "skipped (succeeded in an earlier attempt)")
    assert attempt.output.output_of("^sub+s") == "generated earlier\n"
    assert attempt.output.output_of("+b") == "b sees replayed\n"
    assert attempt.stored()["+wf+a"].store_params == {"x": "replayed"}


def test_a_forced_task_runs_again_though_it_succeeded_earlier(make_attempt, tmp_path):
    earlier = {"+wf+a": ActionRecord({}, {}, [], None)}
    attempt = make_attempt("+a:\n  sh>: touch a-ran\n", plan=ResumePlan(earlier, forced=lambda n: n == "+wf+a"))
    assert attempt.run() == TaskState.SUCCESS
    assert (tmp_path / "a-ran").exists()
    assert attempt.runner.skipped == 0


def test_tasks_ended_beforehand_count_as_done_without_running(make_attempt, tmp_path):
    attempt = make_attempt("+a:\n  echo>: a\n+b:\n  sh>: touch b-ran\n", ended=frozenset({"+wf+b"}))
    assert attempt.run() == TaskState.SUCCESS
    assert not (tmp_path / "b-ran").exists()
    assert attempt.stored_states()["+wf+b"] == "success"


def test_params_that_fail_to_evaluate_fail_the_task_without_retrying_it(make_attempt, tmp_path):
    attempt = make_attempt("+a:\n  _retry: 3\n  sh>: touch a-ran ${no_such_param}\n+b:\n  echo>: never\n")
    assert attempt.run() == TaskState.GROUP_ERROR
    stored = attempt.stored()["+wf+a"]
    assert stored.state == TaskState.ERROR and stored.retry_count == 0
    assert stored.error == {"message": "Failed to evaluate a variable ${no_such_param} "
                                       "(ReferenceError: no_such_param is not defined)"}
    assert not (tmp_path / "a-ran").exists()
    assert attempt.stored_states()["+wf+b"] == "blocked"


def test_secret_values_are_masked_in_output_and_in_errors(make_attempt, secret_store, tmp_path):
    secret = "hunter2-sesame"
    secret_store.set("db.password", secret)
    (tmp_path / "steps.py").write_text(
        "import os\n\ndef leak():\n    raise RuntimeError('bad password ' + os.environ['PW'])\n")
    attempt = make_attempt(
        "_export:\n  _env:\n    PW: ${secret:db.password}\n"
        "+a:\n  sh>: echo \"password is $PW\"; echo \"and $PW again\" >&2\n"
        f"+b:\n  py>: steps.leak\n  python: {PYTHON}\n"
    )
    assert attempt.run() == TaskState.GROUP_ERROR
    assert sorted(attempt.output.output_of("+a").splitlines()) == ["and *** again", "password is ***"]
    error = attempt.stored()["+wf+b"].error
    assert error["message"] == "RuntimeError: bad password ***"
    assert secret not in repr(attempt.output.events) and secret not in repr(error)


def test_commands_may_write_straight_to_the_output_only_while_nothing_is_masked(make_attempt):
    class Terminal(NullOutput):
        def passthrough(self):
            return (1, 2)

    attempt = make_attempt("+a:\n  echo>: a\n")
    attempt.runner.output = Terminal()
    assert attempt.runner.passthrough() == (1, 2)
    attempt.runner.masker.add("a-secret")
    assert attempt.runner.passthrough() is None


def test_max_tasks_bounds_how_many_tasks_run_at_once(make_attempt):
    one_at_a_time = make_attempt("_parallel: true\n+a:\n  sh>: echo a\n+b:\n  sh>: echo b\n",
                                 settings=RunSettings(max_tasks=1))
    assert one_at_a_time.run() == TaskState.SUCCESS
    assert one_at_a_time.output.order() == [  # b is taken in the turn that ends a, and starts after it
        ("start", "+wf+a"), ("output", "+wf+a"), ("start", "+wf+b"), ("end", "+wf+a"),
        ("output", "+wf+b"), ("end", "+wf+b"), ("end", "+wf"),
    ]
    # Three tasks that each wait for the other two: they succeed only if all three run at once.
    wait = ("touch {0}; for i in $(seq 3000); do [ -f a ] && [ -f b ] && [ -f c ] && exit 0; sleep 0.01; done; "
            "exit 1")
    together = make_attempt("_parallel: true\n" + "".join(f"+{n}:\n  sh>: {wait.format(n)}\n" for n in "abc"),
                            settings=RunSettings(max_tasks=3))
    assert together.run() == TaskState.SUCCESS


def test_a_runner_whose_lease_was_taken_writes_nothing_more_and_its_commands_are_stopped(make_attempt, tmp_path):
    attempt = make_attempt(
        '_parallel: true\n+a:\n  sh>: echo started; while [ ! -f go ]; do sleep 0.01; done\n'
        '+b:\n  sh>: echo "pid $$$$"; exec sleep 60\n')
    store, runner = attempt.store, attempt.runner
    store.raw.execute("UPDATE attempts SET lease_owner = 'node-a' WHERE id = ?", (attempt.attempt_id,))
    store.raw.commit()
    runner.owner = "node-a"

    async def take_the_lease_while_a_runs():
        run = asyncio.ensure_future(runner.run())
        while "pid" not in attempt.output.output_of("+b") or "started" not in attempt.output.output_of("+a"):
            attempt.output.printed.clear()
            await asyncio.wait_for(attempt.output.printed.wait(), 30)
        before = attempt.stored_states()
        store.raw.execute("UPDATE attempts SET lease_owner = 'node-b' WHERE id = ?", (attempt.attempt_id,))
        store.raw.commit()
        (tmp_path / "go").touch()  # +a ends: its success is the next write
        with pytest.raises(LeaseLost, match="no longer held by node-a"):
            await asyncio.wait_for(run, 30)
        handles = list(runner.running.values())
        runner.abort()
        await asyncio.gather(*handles, return_exceptions=True)
        return before

    before = asyncio.run(take_the_lease_while_a_runs())
    assert before == {"+wf": "planned", "+wf+a": "running", "+wf+b": "running"}
    assert attempt.stored_states() == before, "nothing was written after the lease was lost"
    assert gone(int(attempt.output.output_of("+b").split()[1]))


def test_a_runner_that_never_held_the_lease_starts_no_command(make_attempt, tmp_path):
    attempt = make_attempt("+a:\n  sh>: touch a-ran\n")
    attempt.runner.owner = "node-a"  # the attempt's row names no owner
    with pytest.raises(LeaseLost):
        attempt.run()
    assert not attempt.store.has_tasks(attempt.attempt_id)
    assert not (Path(tmp_path) / "a-ran").exists()


def test_one_operator_through_the_fixture_for_plugin_authors(digpy_operator, secret_store):
    """core/testing.py's fixture runs one task on this same runner: masking and params errors alike."""
    secret_store.set("api.token", "tok-123456")
    run = digpy_operator({"sh>": 'echo "token $T"', "_env": {"T": "${secret:api.token}"}})
    assert (run.state, run.output) == ("success", "token ***\n")
    bad = digpy_operator({"echo>": "${no_such_param}", "_retry": 2})
    assert (bad.state, bad.output) == ("error", "")
    assert bad.error == ("Failed to evaluate a variable ${no_such_param} "
                         "(ReferenceError: no_such_param is not defined)")
