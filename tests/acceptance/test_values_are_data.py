"""Values that come from an error or from outside the workflow (what a task stored, an operator's
output) are data: a `${` inside them is never evaluated again."""

from __future__ import annotations


def test_error_runs_after_an_expression_failure(project):
    project.write("wf.dig", "+t:\n  _error:\n    echo>: handled\n  echo>: \"${nope}\"\n"
                            "+u:\n  _error:\n    echo>: \"told: ${error.message}\"\n  echo>: \"${nope}\"\n")
    result = project.run("wf", "--session", "2026-01-01")
    assert result.returncode == 1
    assert "handled\n" in result.stdout
    assert "+wf+t^error failed" not in result.stderr, result.stderr
    project.write("wf.dig", "+u:\n  _error:\n    echo>: \"told: ${error.message}\"\n  echo>: \"${nope}\"\n")
    result = project.run("wf", "--session", "2026-01-02")
    assert "told: Failed to evaluate a variable ${nope} (ReferenceError: nope is not defined)\n" in result.stdout


def test_a_stored_value_is_not_evaluated_downstream(project):
    project.write("steps.py", "import digpy\n\ndef a():\n    digpy.env.store(v='${nope} and ${1 + 1}')\n")
    project.write("wf.dig", "+a:\n  py>: steps.a\n+b:\n  echo>: \"got ${v}\"\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "got ${nope} and ${1 + 1}\n"
