"""require> through the real command."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_runs_the_required_session_once(project):
    for name in ("require.dig", "require_prepare.dig"):
        shutil.copy(ROOT / "projects/operators" / name, project.path / name)
    result = project.run("require", "--session", "2026-02-01")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["fetching from warehouse for 2026-02-01", "prepared, now using it"]
    assert result.stderr.count("starting require_prepare for session 2026-02-01T00:00:00+00:00") == 1


def test_a_failed_requirement_fails_the_task_unless_ignored(project):
    project.write("broken.dig", "+x:\n  fail>: no input\n")
    project.write("wf.dig", "+need:\n  require>: broken\n+after:\n  echo>: never\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert "Dependent workflow failed. Session id:" in result.stderr
    assert result.stdout == ""
    project.write("wf2.dig", "+need:\n  require>: broken\n  ignore_failure: true\n+after:\n  echo>: went on\n")
    assert project.run("wf2").stdout == "went on\n"


def test_session_time_option_and_unknown_workflow(project):
    project.write("dep.dig", "+x:\n  echo>: dep ${session_date}\n")
    project.write("wf.dig", "+need:\n  require>: dep\n  session_time: 2025-12-31T00:00:00+00:00\n")
    assert project.run("wf", "--session", "2026-01-01").stdout == "dep 2025-12-31\n"
    project.write("bad.dig", "+need:\n  require>: nothing\n")
    result = project.run("bad")
    assert result.returncode == 1 and "workflow 'nothing' does not exist" in result.stderr
    project.write("garbage.dig", "+need:\n  require>: dep\n  session_time: garbage\n")
    result = project.run("garbage")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "require> session_time must be a date-time such as 2026-01-31T00:00:00+00:00, got 'garbage'" \
        in result.stderr


def test_a_require_cycle_fails_instead_of_waiting_forever(project):
    project.write("self.dig", "+a:\n  require>: self\n")
    result = project.run("self", timeout=30)
    assert result.returncode == 1
    assert "require> self for session" in result.stderr and "(a cycle)" in result.stderr
    project.write("x.dig", "+a:\n  require>: y\n")
    project.write("y.dig", "+b:\n  require>: x\n")
    result = project.run("x", timeout=30)
    assert result.returncode == 1 and "require> x for session" in result.stderr and "(a cycle)" in result.stderr
    project.write("main.dig", "_parallel: true\n+b:\n  require>: b\n+c:\n  require>: c\n")
    project.write("b.dig", "+x:\n  require>: c\n")
    project.write("c.dig", "+y:\n  require>: b\n")
    result = project.run("main", timeout=30)
    assert result.returncode == 1 and "(a cycle)" in result.stderr, "b and c wait for each other"
