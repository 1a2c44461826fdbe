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
