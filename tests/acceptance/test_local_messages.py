"""What `digpy run`, `check` and `push` say in small cases: an empty workflow, one skipped task, a
file given where a directory is expected."""

from __future__ import annotations


def test_an_empty_workflow_is_a_warning_at_run_and_a_note_in_check(project):
    project.write("empty.dig", "")
    project.write("only_params.dig", "_export:\n  a: 1\n")
    for name in ("empty", "only_params"):
        result = project.run(name)
        assert result.returncode == 0, result.stderr
        assert (f"[WARNING] {name}.dig:1:1: workflow {name} has no tasks (no +name: keys); nothing to run"
                in result.stderr.splitlines()[0])
    check = project.digpy("check")
    assert check.returncode == 0, check.stderr
    assert "    empty (no tasks: nothing to run)\n    only_params (no tasks: nothing to run)\n" in check.stdout


def test_one_skipped_task_is_singular(project):
    project.write("wf.dig", "+a:\n  echo>: a\n")
    assert project.run("wf", "--session", "2026-01-01").returncode == 0
    again = project.run("wf", "--session", "2026-01-01")
    assert again.returncode == 0
    assert ", 1 task skipped)." in again.stderr and "1 tasks" not in again.stderr


def test_a_file_given_as_project_directory_is_named_as_a_file(project):
    project.write("wf.dig", "+a:\n  echo>: a\n")
    expected = ["error: wf.dig is a file, not a project directory; --project takes a directory: the one that "
                "holds the .dig files"]
    for args in (["push", "x", "--project", "wf.dig", "-e", "http://127.0.0.1:9"], ["run", "wf", "--project", "wf.dig"],
                 ["check", "--project", "wf.dig"]):
        result = project.digpy(*args)
        assert result.returncode == 2, args
        assert result.stderr.splitlines() == expected, args
    missing = project.digpy("push", "x", "--project", "nowhere")
    assert missing.returncode == 2 and missing.stderr.strip() == "error: project directory nowhere does not exist"
