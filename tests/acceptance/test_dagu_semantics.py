"""Dagu's own rules for matching, partial success, outputs of failed steps and handlers, through the
real `digpy run` (what each test expects is what Dagu 1.30.2 does with the same file)."""

from __future__ import annotations


def test_patterns_match_line_by_line_as_in_dagu(project):
    # preconditions: a plain text equals a line, re: is found in a line; continueOn.output: a text
    # is part of a line, re: found in it
    project.write("match.yaml", """\
type: graph
steps:
  - name: a
    command: printf 'abc\\nl1 and more\\n'
    output: V
  - name: search
    depends: a
    preconditions:
      - {condition: "${V}", expected: "re:b"}
      - {condition: "${V}", expected: "re:l1.*"}
      - {condition: "${V}", expected: "abc"}
    command: echo search-ran
  - name: whole
    depends: a
    preconditions:
      - {condition: "${V}", expected: "ab"}
    command: echo whole-ran
  - name: warn
    depends: a
    command: echo "some WARN thing"; exit 1
    continueOn: {output: "WARN"}
  - name: after
    depends: warn
    command: echo after-warn
""")
    result = project.run("match")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "search-ran" in lines and "after-warn" in lines and "whole-ran" not in lines


def test_a_precondition_may_name_its_command_with_command(project):
    project.write("cmd.yaml", """\
steps:
  - name: yes
    preconditions:
      - command: "test -d /"
    command: echo yes-ran
  - name: no
    preconditions:
      - {command: "test -f /no/such/file"}
    command: echo no-ran
""")
    result = project.run("cmd")
    assert result.returncode == 0, result.stderr
    assert "yes-ran" in result.stdout and "no-ran" not in result.stdout


def test_a_failed_step_still_sets_its_output(project):
    project.write("out.yaml", """\
handlerOn:
  failure:
    command: echo "handler sees [${LAST}]"
steps:
  - name: first
    command: echo "partial result"; exit 1
    output: OUT
    continueOn: {failure: true}
  - name: next
    depends: first
    command: echo "next sees [${OUT}]"
  - name: last
    depends: next
    command: echo "last words"; exit 3
    output: LAST
""")
    result = project.run("out")
    assert result.returncode != 0
    lines = result.stdout.splitlines()
    assert "next sees [partial result]" in lines and "handler sees [last words]" in lines


def test_failures_that_went_on_with_no_step_succeeding_fail_the_run(project):
    project.write("none.yaml", """\
handlerOn:
  success:
    command: echo "success handler"
  failure:
    command: echo "failure handler sees $DAG_RUN_STATUS"
steps:
  - name: fail-step
    command: exit 1
    continueOn:
      failure: true
""")
    result = project.run("none")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "failure handler sees failed" in lines and "success handler" not in lines


def test_a_partial_success_runs_the_success_handler_with_its_status(project):
    project.write("some.yaml", """\
handlerOn:
  success:
    command: echo "success handler sees $DAG_RUN_STATUS as $DAG_RUN_STEP_NAME"
  exit:
    command: echo "exit handler sees $DAG_RUN_STATUS"
steps:
  - name: fail-step
    command: exit 1
    continueOn: {failure: true}
  - name: ok-step
    command: "true"
""")
    result = project.run("some")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "success handler sees partially_succeeded as onSuccess" in lines
    assert "exit handler sees partially_succeeded" in lines


def test_mark_success_makes_a_plain_success(project):
    project.write("marked.yaml", """\
handlerOn:
  success:
    command: echo "success handler sees $DAG_RUN_STATUS"
steps:
  - name: fail-step
    command: exit 1
    continueOn:
      failure: true
      markSuccess: true
""")
    result = project.run("marked")
    assert result.returncode == 0, result.stderr
    # the step is a plain success, not one that keeps its error (Dagu: succeeded, not partial)
    assert result.stdout.splitlines() == [
        "failed, marked as success (_continue_on mark_success): Command failed with code 1",
        "success handler sees succeeded"]


def test_init_handler_runs_after_the_preconditions_and_its_own_precondition_skips_only_itself(project):
    project.write("init_pre.yaml", """\
handlerOn:
  init:
    command: echo init-ran
    preconditions: "false"
steps:
  - name: step1
    command: echo step1-ran
""")
    project.write("dag_pre.yaml", """\
preconditions: "false"
handlerOn:
  init:
    command: echo init-ran
steps:
  - name: step1
    command: echo step1-ran
""")
    project.write("status.yaml", """\
handlerOn:
  init:
    name: my-init
    command: echo "init sees [$DAG_RUN_STATUS] as $DAG_RUN_STEP_NAME"
  exit:
    command: echo "exit as $DAG_RUN_STEP_NAME"
steps:
  - command: "true"
""")
    own = project.run("init_pre")
    assert own.returncode == 0, own.stderr
    assert "init-ran" not in own.stdout and "step1-ran" in own.stdout.splitlines()
    dag = project.run("dag_pre")
    assert dag.returncode == 0, dag.stderr
    assert "init-ran" not in dag.stdout and "step1-ran" not in dag.stdout
    status = project.run("status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.splitlines() == ["init sees [running] as onInit", "exit as onExit"]


def test_outcome_in_a_dig_file(project):
    project.write("o.dig", """\
_parallel: true
+a:
  sh>: exit 2
  _continue_on: {failure: true}
+b:
  sh>: echo b
+c:
  sh>: exit 1
  _continue_on: {failure: true}
+ab:
  _after: [+a, +b, +c]
  _outcome: {of: [+a, +b], as: AB}
  sh>: echo "a and b $AB"
+only_c:
  _after: [+ab]
  _outcome: {of: [+c], as: C}
  sh>: echo "c $C"
""")
    result = project.run("o")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "a and b partially_succeeded" in lines and "c failed" in lines
    project.write("bad.dig", "+a:\n  sh>: echo\n  _outcome: {of: a, as: X}\n")
    bad = project.run("bad")
    assert bad.returncode != 0 and "bad.dig:3:13: _outcome of must name sibling tasks (+name)" in bad.stderr, bad.stderr
