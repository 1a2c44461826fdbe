"""`digpy check` as a user runs it: every broken file of the project reported, each error located,
and the syntax of `${...}` checked without evaluating anything."""

from __future__ import annotations


def test_check_reports_every_broken_file_then_exits_2(project):
    project.write("a.dig", "+x:\n  echo>: ${foo(}\n+y:\n  echo>: \"${1 +} and ${ok} and ${x y}\"\n")
    project.write("b.dig", "+x:\n  shh>: x\n")
    project.write("c.dig", "+x:\n  echo>: fine on ${session_date}\n")
    project.write("d.dig", "+x:\n  echo>: [unclosed\n")
    result = project.digpy("check")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: a.dig:2:10: ${foo(} is not a valid expression (SyntaxError: expecting ')')",
        "error: a.dig:4:10: ${1 +} is not a valid expression (SyntaxError: unexpected token in expression: ')')",
        "error: a.dig:4:10: ${x y} is not a valid expression (SyntaxError: expecting ')')",
        "error: b.dig:2:3: unknown operator 'shh>'; did you mean 'sh>'?",
        "error: d.dig:3:1: invalid YAML: did not find expected ',' or ']'",
        "error: 3 of 4 workflow files have errors",
    ]
    assert "Definitions (1 workflow):\n    c (2 tasks)\n" in result.stdout, "the valid workflow is still shown"
    one = project.digpy("check", "a")
    assert one.returncode == 2 and len(one.stderr.splitlines()) == 3, one.stderr


def test_run_warns_at_start_about_an_expression_that_cannot_compile_and_fails_its_task(project):
    project.write("wf.dig", "+first:\n  echo>: first runs\n+bad:\n  echo>: ${foo(}\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "first runs\n"
    warning = next(line for line in result.stderr.splitlines() if "[WARNING]" in line)
    assert warning.endswith("[WARNING] wf.dig:4:10: ${foo(} is not a valid expression (SyntaxError: expecting "
                            "')'); its task will fail when it runs")
    assert result.stderr.index("[WARNING]") < result.stderr.index("first"), "the warning comes at start"
    assert "  * +wf+bad:\n    Failed to evaluate a variable ${foo(} (SyntaxError: expecting ')')" in result.stderr
