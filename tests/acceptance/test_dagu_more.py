"""Dagu 1.30 keys that Dagu's own files use, run through the real `digpy` command: precondition
`negate`, the DAG-level `shell`, preconditions on a step that runs a child DAG, and `secrets`."""

from __future__ import annotations


def test_a_negated_precondition_runs_the_step_when_the_condition_does_not_hold(project):
    project.write("neg.yaml", """\
steps:
  - name: status
    command: echo failed
    output: STATUS
  - name: alert
    command: echo "alert, status is ${STATUS}"
    preconditions:
      - condition: "${STATUS}"
        expected: "success"
        negate: true
  - name: celebrate
    command: echo "all good"
    preconditions:
      - condition: "${STATUS}"
        expected: "re:fail.*"
        negate: true
  - name: no-flag
    command: echo "no stop flag"
    preconditions:
      - condition: "test -f stop.flag"
        negate: true
    continueOn: {skipped: true}
""")
    result = project.run("neg")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "failed", "alert, status is failed",
        "skipped: precondition not met: 'failed' is 're:fail.*' (negate: it must not be)",
        "no stop flag"]
    project.write("stop.flag", "")
    again = project.run("neg", "--rerun")
    assert again.stdout.splitlines()[-1] == "skipped: precondition `test -f stop.flag` exited with 0 (negate: it must not)"


def test_negate_must_be_a_boolean(project):
    project.write("bad.yaml", "steps:\n  - command: echo\n    preconditions:\n      - {condition: a, negate: maybe}\n")
    result = project.digpy("check")
    assert result.returncode == 2
    assert "bad.yaml:4:24: precondition negate must be true or false" in result.stderr


def test_the_dag_shell_is_every_steps_shell_unless_the_step_gives_its_own(project):
    # what Dagu 1.30.2 prints for the same file (/bin/sh is dash here: no BASH_VERSION, no [[ ]])
    project.write("sh.yaml", """\
shell: ["bash", "-e"]
steps:
  - name: a
    command: echo "a ${BASH_VERSION:+bash}"
  - name: b
    shell: sh
    command: echo "b ${BASH_VERSION:+bash}"
  - name: c
    script: |
      [[ 1 == 1 ]] && echo "c brackets"
""")
    result = project.run("sh")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["a bash", "b ", "c brackets"]
    project.write("sh.yaml", "shell: {name: bash}\nsteps: [echo]\n")
    bad = project.digpy("check")
    assert "sh.yaml:1:8: shell must be a command such as bash" in bad.stderr
