"""Resuming (digpy.core.workflow.resume): which tasks a run skips, must run, or treats as done."""

from __future__ import annotations

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.dig.loader import load_text
from digpy.core.workflow.model import TaskState
from digpy.core.workflow.resume import ActionRecord, ResumePlan, ended_tasks, forced_tasks
from digpy.core.workflow.tree import compile_workflow

# +wf ─ +a, +b, +g ─ (+x, +y), +c
SOURCE = "+a:\n  echo>: a\n+b:\n  echo>: b\n+g:\n  +x:\n    echo>: x\n  +y:\n    echo>: y\n+c:\n  echo>: c\n"
SPECS = compile_workflow("wf", load_text(SOURCE, "wf.dig")).tasks
NAMES = [s.full_name for s in SPECS]
RECORD = ActionRecord(store_params={"k": 1}, export_params={}, reset_store=[], subtask_config=None)


def forced(**selection: str) -> list[str]:
    check = forced_tasks(SPECS, **selection)
    return [name for name in NAMES if check(name)]


def test_the_workflow_of_these_tests():
    assert NAMES == ["+wf", "+wf+a", "+wf+b", "+wf+g", "+wf+g+x", "+wf+g+y", "+wf+c"]


def test_a_plan_replays_the_record_of_a_task_unless_it_is_forced():
    plan = ResumePlan({"+wf+a": RECORD, "+wf+b": RECORD}, forced=lambda name: name == "+wf+b")
    assert plan.record_for("+wf+a") is RECORD
    assert plan.record_for("+wf+b") is None
    assert plan.record_for("+wf+c") is None
    assert ResumePlan().record_for("+wf+a") is None


def test_nothing_is_forced_without_a_start_or_goal():
    assert forced() == []
    assert forced(start=None, goal=None) == []


def test_start_forces_the_task_and_everything_after_it_but_not_its_groups():
    assert forced(start="+b") == ["+wf+b", "+wf+g", "+wf+g+x", "+wf+g+y", "+wf+c"]
    assert forced(start="+g+y") == ["+wf+g+y", "+wf+c"]
    assert forced(start="+g") == ["+wf+g", "+wf+g+x", "+wf+g+y", "+wf+c"]
    assert forced(start="y") == forced(start="+g+y"), "the leading + may be left out"


def test_goal_forces_the_task_and_its_subtree_only():
    assert forced(goal="+g") == ["+wf+g", "+wf+g+x", "+wf+g+y"]
    assert forced(goal="+a") == ["+wf+a"]


def test_tasks_generated_at_run_time_belong_to_the_task_that_made_them():
    check = forced_tasks(SPECS, goal="+g+x")
    assert check("+wf+g+x^sub+loop-0") and check("+wf+g+x^error")
    assert not check("+wf+a^sub+loop-0")


def test_end_treats_the_task_and_all_after_it_as_done_but_not_its_groups():
    assert ended_tasks(SPECS, end="+g+x") == {"+wf+g+x", "+wf+g+y", "+wf+c"}
    assert ended_tasks(SPECS, end="+b") == {"+wf+b", "+wf+g", "+wf+g+x", "+wf+g+y", "+wf+c"}


def test_goal_treats_everything_after_its_subtree_as_done():
    assert ended_tasks(SPECS, goal="+g") == {"+wf+c"}
    assert ended_tasks(SPECS, goal="+g+x") == {"+wf+g+y", "+wf+c"}
    assert ended_tasks(SPECS, goal="+c") == set()
    assert ended_tasks(SPECS) == frozenset()


@pytest.mark.parametrize("selection", [{"start": "+nope"}, {"goal": "+nope"}])
def test_an_unknown_task_is_a_clear_error(selection):
    with pytest.raises(ConfigError) as error:
        forced_tasks(SPECS, **selection)
    assert error.value.message == "task '+nope' not found"
    with pytest.raises(ConfigError, match="task '\\+nope' not found"):
        ended_tasks(SPECS, end="+nope")


def test_an_ambiguous_task_name_is_a_clear_error():
    specs = compile_workflow("wf", load_text("+g:\n  +x:\n    echo>: 1\n+h:\n  +x:\n    echo>: 2\n")).tasks
    with pytest.raises(ConfigError, match=r"task '\+x' matches 2 tasks: \+wf\+g\+x, \+wf\+h\+x"):
        forced_tasks(specs, start="+x")


def test_a_goal_run_skips_what_succeeded_runs_its_subtree_and_nothing_after(make_attempt, tmp_path):
    """The three together, as `digpy run --goal +g` uses them after an earlier run of the session."""
    source = "".join(f"+{n}:\n  sh>: touch ran-{n}\n" for n in "ab") + \
        "+g:\n  +x:\n    sh>: touch ran-x\n  +y:\n    sh>: touch ran-y\n+c:\n  sh>: touch ran-c\n"
    specs = compile_workflow("wf", load_text(source)).tasks
    earlier = {name: RECORD for name in ("+wf+a", "+wf+b", "+wf+g+x")}
    attempt = make_attempt(source, plan=ResumePlan(earlier, forced_tasks(specs, goal="+g")),
                           ended=ended_tasks(specs, goal="+g"))
    assert attempt.run() == TaskState.SUCCESS
    assert sorted(p.name for p in tmp_path.glob("ran-*")) == ["ran-x", "ran-y"]
    assert attempt.runner.skipped == 2
