"""Which program runs a Dagu step, as on Dagu 1.30.2: the default shell, interpreters of scripts,
shells given with `-c`, `~` in `dir:`, `stdout:` files and the names of unnamed steps; through the
real `digpy run` (what it prints is what `dagu start` printed for the same files)."""

from __future__ import annotations

import shutil

import pytest

BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def printed(result) -> list[str]:
    return result.stdout.splitlines()


@needs_bash
def test_a_step_without_a_shell_runs_in_the_shell_of_dagu_default_shell_or_shell(project):
    project.write("bashisms.yaml", """\
steps:
  - command: arr=(a b c); echo "${arr[1]} ${BASH_VERSION:0:1}"
  - script: |
      if [[ "$DAG_NAME" == bash* ]]; then echo "[[ ]] works"; fi
""")
    result = project.run("bashisms.yaml", env={"SHELL": BASH, "DAGU_DEFAULT_SHELL": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    assert printed(result)[0].startswith("b ") and printed(result)[1:] == ["[[ ]] works"]
    # DAGU_DEFAULT_SHELL wins over SHELL; the DAG's own shell wins over both
    project.write("which.yaml", "steps:\n  - command: echo \"$0\"\n")
    result = project.run("which.yaml", env={"SHELL": "/bin/false", "DAGU_DEFAULT_SHELL": BASH})
    assert printed(result) == [BASH]
    project.write("own.yaml", "shell: sh\nsteps:\n  - command: echo \"$0\"\n")
    result = project.run("own.yaml", env={"SHELL": "/bin/false", "DAGU_DEFAULT_SHELL": BASH})
    assert printed(result) == ["sh"]


@needs_bash
def test_sh_shell_from_env_names_the_shell_by_a_variable_of_digpys_environment(project):
    project.write("wf.dig", """\
+which:
  sh>: echo "$0"
  shell_from_env: [MY_SHELL, OTHER_SHELL]
  shell: [sh]
""")
    assert printed(project.run("wf", env={"MY_SHELL": "", "OTHER_SHELL": BASH})) == [BASH]
    assert printed(project.run("wf", "--rerun", env={"MY_SHELL": "", "OTHER_SHELL": ""})) == ["sh"]


def test_a_script_run_by_a_command_or_a_non_posix_shell_sees_the_dags_variables(project):
    # what Dagu 1.30.2 prints for this file
    project.write("cs.yaml", """\
env:
  - E1: envval
params:
  - P1: pval
steps:
  - command: sh
    dir: /tmp
    env:
      - S1: stepenv
    script: |
      echo "E1=$E1 P1=$P1 S1=$S1 pwd=$(pwd) name=$DAG_NAME"
  - command: python3
    script: |
      import os
      print("py", os.environ["E1"], os.environ["P1"], os.environ["DAG_RUN_STEP_NAME"], "${E1}")
  - shell: python3
    script: |
      import os, sys
      print("shell", os.environ["E1"], os.environ["P1"])
      sys.exit(3)
    continueOn:
      exitCode: [3]
""")
    result = project.run("cs.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert printed(result)[:3] == ["E1=envval P1=pval S1=stepenv pwd=/tmp name=cs",
                                   "py envval pval script_2 ${E1}", "shell envval pval"]


def test_a_script_with_a_shebang_is_run_by_its_interpreter(project):
    # Dagu's corpus (config_19, config_20) and its starter example: `#!env perl`, `#!env sh`
    project.write("shebang.yaml", """\
steps:
  - id: first
    script: |
      #!/usr/bin/env python3
      import sys
      print("python", sys.version_info[0])
    output: PY
  - |
      #!env sh
      echo "sh after $PY, from $(cat "${first.stdout}")"
  - script: |
      #!/usr/bin/env python3
      import sys
      sys.exit(4)
""")
    result = project.run("shebang.yaml")
    assert result.returncode != 0
    # a reference to a step's output file is filled in, as Dagu does (not $VAR: the interpreter's business)
    assert printed(result)[:2] == ["python 3", "sh after python 3, from python 3"]
    assert "Command failed with code 4" in result.stdout + result.stderr


def test_a_shell_ending_in_dash_c_and_tilde_in_dir(project):
    project.write("c.yaml", """\
env:
  - TILDE: ~/
steps:
  - command: |
      echo 'hello world'
      echo "$DAG_NAME"
    shell: sh -o errexit -c
  - dir: $TILDE
    command: pwd
  - dir: "~"
    command: pwd
""")
    home = project.path / "home"
    home.mkdir()
    result = project.run("c.yaml", env={"HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert printed(result) == ["hello world", "c", str(home), str(home)]


def test_stdout_and_stderr_files_are_appended_to(project):
    project.write("out.txt", "before\n")
    project.write("o.yaml", """\
steps:
  - command: echo hello; echo oops >&2
    stdout: out.txt
    stderr: err.txt
""")
    assert project.run("o.yaml").returncode == 0
    assert project.run("o.yaml", "--rerun").returncode == 0
    assert (project.path / "out.txt").read_text() == "before\nhello\nhello\n"
    assert (project.path / "err.txt").read_text() == "oops\noops\n"


def test_unnamed_steps_are_named_by_their_kind_and_place(project):
    project.write("names.yaml", """\
steps:
  - echo one
  - script: echo two
  - - echo a
    - command: |
        echo b
  - command: echo "$DAG_RUN_STEP_NAME"
    depends: script_2
  - type: jq
    command: .a
    script: '{"a": 1}'
  - call: child
---
name: child
steps:
  - command: echo "child $DAG_RUN_STEP_NAME"
""")
    result = project.run("names.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert printed(result) == ["one", "two", "a", "b", "cmd_5", "1", "child cmd_1"]
    # the nested list's second step takes cmd_4 (its group's cmd_3 is taken), so the next is cmd_5
    started = [line.split("[INFO] ")[1].split(":")[0] for line in result.stderr.splitlines() if "[INFO] +" in line]
    assert started == ["+names+cmd_1", "+names+script_2", "+names+cmd_3", "+names+cmd_4", "+names+cmd_5",
                       "+names+jq_5", "+names+dag_6+cmd_1"]


def test_the_dags_shell_and_the_default_shell_stop_at_the_first_failure_a_steps_own_shell_as_given(project):
    # Dagu 1.30.2 adds -e to the DAG's shell and to the default one, not to a step's own shell
    project.write("e.yaml", """\
shell: sh
type: graph
steps:
  - command: false; echo dag-shell-after-false
  - shell: sh
    command: false; echo step-shell-after-false
""")
    result = project.run("e.yaml")
    assert result.returncode != 0
    assert printed(result) == ["step-shell-after-false"]
    project.write("plain.yaml", "steps:\n  - script: |\n      false\n      echo default-shell-after-false\n")
    result = project.run("plain.yaml")
    assert result.returncode != 0 and "after-false" not in result.stdout
