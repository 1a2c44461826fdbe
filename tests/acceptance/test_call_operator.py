"""call> through the real command."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_calls_a_workflow_in_a_subdirectory(project):
    shutil.copytree(ROOT / "projects/operators", project.path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".digpy", "__pycache__"))
    result = project.run("call")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["loading eu", "counting orders_eu in called", "loaded 9 rows"]


def test_a_missing_file_is_a_located_error_before_anything_runs(project):
    project.write("wf.dig", "+a:\n  echo>: never\n+b:\n  call>: nope\n")
    result = project.run("wf")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == "error: wf.dig:4:3: call> 'nope': workflow file nope.dig not found"


def test_a_cycle_is_a_located_error(project):
    project.write("a.dig", "+x:\n  call>: b\n")
    project.write("b.dig", "+y:\n  call>: a.dig\n")
    result = project.run("a")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: b.dig:2:3: call> makes a cycle: a.dig → b.dig → a.dig"


def test_a_cycle_through_a_computed_name_fails_at_run_time(project):
    project.write("a.dig", "+x:\n  call>: ${target}\n")
    result = project.run("a", "-p", "target=a")
    assert result.returncode == 1
    assert "call> makes a cycle: a.dig → a.dig" in result.stderr


def test_an_invalid_called_file_is_reported_with_its_own_location(project):
    project.write("a.dig", "+x:\n  call>: b\n")
    project.write("b.dig", "+y:\n  ech>: hi\n")
    result = project.digpy("check", "a")
    assert result.stderr.strip() == "error: b.dig:2:3: unknown operator 'ech>'; did you mean 'echo>'?"


def test_the_called_workflow_sees_the_call_tasks_export_not_its_own_keys(project):
    """As in Digdag, a task's own keys are its alone: the tasks it generates (a called workflow,
    py> subtasks) see its `_export` and what it inherits, not its plain keys."""
    project.write("steps.py", "import digdag\n\ndef plan():\n    digdag.env.add_subtask({'echo>': '${shown}'})\n")
    project.write("called.dig", "+t:\n  echo>: ${shown}\n")
    project.write("wf.dig", "_export:\n  inherited: from the workflow\n"
                            "+exported:\n  call>: called\n  _export:\n    shown: exported\n"
                            "+inherits:\n  call>: called\n  _export:\n    shown: ${inherited}\n"
                            "+py:\n  py>: steps.plan\n  _export:\n    shown: to py children\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["exported", "from the workflow", "to py children"]
    project.write("own.dig", "+own:\n  call>: called\n  shown: own key\n")
    own = project.run("own")
    assert own.returncode == 1
    assert "+own+own^sub+t failed: Failed to evaluate a variable ${shown} (ReferenceError: shown is not defined)" \
        in own.stderr
