"""Dagu 1.30 keys that Dagu's own files use, run through the real `digpy` command: precondition
`negate`, the DAG-level `shell`, preconditions on a step that runs a child DAG, and `secrets`."""

from __future__ import annotations

import subprocess


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
    continueOn: {skipped: true}
  - name: no-flag
    command: echo "no stop flag"
    preconditions:
      - condition: "test -f stop.flag"
        negate: true
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


def test_preconditions_of_a_step_that_runs_a_child_dag_skip_the_whole_child(project):
    project.write("other.yaml", "params: [WHO: x]\nsteps:\n  - echo \"file child ${WHO}\"\n")
    project.write("deploy.yaml", """\
type: graph
maxActiveSteps: 1
steps:
  - name: env
    command: echo production
    output: ENV
  - name: prod
    run: prod-dag
    preconditions: [{condition: "${ENV}", expected: production}]
    depends: [env]
  - name: dev
    run: dev-dag
    preconditions: [{condition: "${ENV}", expected: development}]
    depends: [env]
  - name: fan
    run: dev-dag
    parallel: [a, b]
    preconditions: [{condition: "${ENV}", expected: development}]
    depends: [env]
    continueOn: {skipped: true}
  - name: file
    run: other
    params: "WHO=${ENV}"
    preconditions: ["test ${ENV} = development"]
    depends: [env]
    continueOn: {skipped: true}
  - name: after-dev
    command: echo "after dev"
    depends: [dev]
  - name: last
    command: echo "last"
    depends: [prod, fan, file]
---
name: prod-dag
steps:
  - echo "deploying to production"
---
name: dev-dag
steps:
  - echo "building for development"
  - echo "testing for development"
""")
    result = subprocess.run(project.command("run", "deploy", "--output", "plain"), cwd=project.path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert result.returncode == 0, result.stdout
    started, skipped, printed = "", set(), []
    for line in result.stdout.splitlines():
        if " [INFO] +deploy" in line:
            started = line.split(" [INFO] ")[1].split(":")[0]
        elif line.startswith("skipped: "):
            skipped.add(started)
        elif " [INFO] " not in line and not line.startswith(("Success.", "  * ")):
            printed.append(line)
    assert printed == ["production", "deploying to production", "last"]
    assert skipped == {"+deploy+dev+precondition", "+deploy+dev+cmd_1", "+deploy+dev+cmd_2", "+deploy+after-dev",
                       "+deploy+fan+precondition", "+deploy+fan+item_0+cmd_1", "+deploy+fan+item_0+cmd_2",
                       "+deploy+fan+item_1+cmd_1", "+deploy+fan+item_1+cmd_2", "+deploy+file"}


def test_output_in_object_form_names_the_variable(project):
    project.write("obj.yaml", """\
steps:
  - command: echo "hello world"
    output: {name: GREETING}
  - command: echo "got ${GREETING}"
""")
    result = project.run("obj")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello world", "got hello world"]
    project.write("obj.yaml", "steps:\n  - command: echo x\n    output: {name: X, key: myKey}\n")
    bad = project.digpy("check")
    assert "obj.yaml:3:23: output: 'key' is not supported yet by digpy; key and omit shape Dagu's outputs.json" \
        in bad.stderr


def test_secrets_from_the_environment_and_from_files_are_masked(project):
    project.write("keys/token.txt", "super-secret-token-12345\n")
    project.write("s.yaml", """\
workingDir: keys
secrets:
  - name: API_TOKEN
    provider: file
    key: token.txt
  - name: FROM_ENV
    provider: env
    key: DIGPY_TEST_SECRET_VALUE
steps:
  - command: echo "token ${API_TOKEN} env ${FROM_ENV}"
  - command: echo "lengths ${#API_TOKEN} ${#FROM_ENV} in $(basename $PWD)"
""")
    result = project.run("s", env={"DIGPY_TEST_SECRET_VALUE": "my-api-key-67890"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["token *** env ***", "lengths 24 16 in keys"]
    missing = project.run("s", "--rerun")
    assert missing.returncode == 1
    assert "secret FROM_ENV: the environment variable DIGPY_TEST_SECRET_VALUE is not set" in missing.stderr


def test_bad_secrets_are_located_errors(project):
    cases = {
        "secrets:\n  - {name: A, provider: vault, key: x}\nsteps: [echo]\n":
            "bad.yaml:2:25: secret A: the vault provider is not supported yet by digpy",
        "secrets:\n  - {name: A, provider: env}\nsteps: [echo]\n":
            "bad.yaml:2:5: secret A needs a key (the environment variable, or the file's path)",
        "env:\n  - MY: x\nsecrets:\n  - {name: A, provider: env, key: MY}\nsteps: [echo]\n":
            "bad.yaml:4:35: secret A reads MY, which this DAG sets itself",
        "secrets:\n  - {name: A, provider: env, key: X, tipo: 1}\nsteps: [echo]\n":
            "bad.yaml:2:38: secret: unknown key 'tipo'",
    }
    for text, expected in cases.items():
        project.write("bad.yaml", text)
        result = project.digpy("check")
        assert result.returncode == 2 and expected in result.stderr, (text, result.stderr)


FLAKY = """\
steps:
  - name: first
    command: echo ran >> {count}; echo first
  - name: flaky
    command: test -f {flag} && echo flaky ok
  - name: last
    command: echo last
"""


def test_dry_run_and_resume_of_a_dagu_file(project):
    count, flag = project.path / "count.txt", project.path / "ok.flag"
    project.write("r.yaml", FLAKY.format(count=count, flag=flag))
    dry = project.run("r", "--dry-run")
    assert dry.returncode == 0 and "dry run: nothing ran" in dry.stderr and "+r+flaky: sh>" in dry.stderr
    assert not count.exists()
    failed = project.run("r")
    assert failed.returncode == 1 and failed.stdout == "first\n"
    assert "+r+flaky failed: Command failed with code 1" in failed.stderr
    flag.touch()
    resumed = project.run("r")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "flaky ok\nlast\n" and "+r+first: skipped (succeeded in an earlier attempt)" in resumed.stderr
    assert count.read_text() == "ran\n", "the step that succeeded did not run again"
    from_last = project.run("r", "--start", "+last")
    assert from_last.stdout == "last\n"


def test_retry_resume_of_a_dagu_attempt_on_the_server(server, tmp_path):
    import json

    from tests.acceptance.test_server import wait_done, write_project

    count, flag = tmp_path / "count.txt", tmp_path / "ok.flag"
    project = write_project(tmp_path / "p", {"r.yaml": FLAKY.format(count=count, flag=flag)})
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    attempt = json.loads(server.digpy("start", "p", "r", "--json").stdout)
    assert wait_done(server, attempt["id"])["status"] == "error"
    flag.touch()
    retried = json.loads(server.digpy("retry", attempt["id"], "--resume", "--json").stdout)
    assert wait_done(server, retried["id"])["status"] == "success"
    log = server.digpy("log", retried["id"]).stdout
    assert "flaky ok" in log and "last" in log and "first" not in log.replace("+r+first", "")
    assert count.read_text() == "ran\n"


def test_parallel_over_an_env_entry_of_the_dag(project):
    project.write("child.yaml", "steps:\n  - echo \"child $1\"\n")  # an item without params: $1
    project.write("fan.yaml", """\
env:
  - SERVERS: "s1 s2 s3"
  - TASKS: '["t1", "t2"]'
steps:
  - run: child
    parallel: ${SERVERS}
  - run: child
    parallel: {items: $TASKS, maxConcurrent: 1}
""")
    result = project.run("fan")
    assert result.returncode == 0, result.stderr
    assert sorted(result.stdout.splitlines()) == ["child s1", "child s2", "child s3", "child t1", "child t2"]
    project.write("fan.yaml", "env:\n  - X: \"`ls`\"\nsteps:\n  - run: child\n    parallel: $X\n")
    bad = project.digpy("check")
    assert "fan.yaml:5:15: parallel: $X is an env entry worked out when the DAG runs; not supported yet" in bad.stderr


def test_a_param_passed_on_to_a_child_under_its_own_name_is_the_parents_value(project):
    # what Dagu 1.30.2 prints: the child's params read the parent's values, not their own defaults
    project.write("child.yaml", "params: \"REGION=child-default DAY=child-day\"\nsteps:\n"
                                "  - echo \"file child $REGION $DAY\"\n")
    project.write("p.yaml", """\
params: "REGION=eu DAY=monday"
env:
  - ITEMS: '["a", "b"]'
steps:
  - run: local
    params: "REGION=$REGION DAY=${DAY}-x"
  - run: child
    params: "REGION=${REGION}"
  - run: local
    parallel: [one, two]
    params: "REGION=${REGION}/${ITEM} DAY=$ITEM"
  - name: days
    command: echo "mon tue"
    output: DAYS
  - run: local
    parallel: ${DAYS}
    params: "REGION=$REGION DAY=${ITEM}"
---
name: local
params: "REGION=local-default DAY=local-day"
steps:
  - echo "local $REGION $DAY"
""")
    result = project.run("p")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["local eu monday-x", "file child eu child-day"]
    assert sorted(lines[2:4]) == ["local eu/one one", "local eu/two two"]
    assert lines[4] == "mon tue" and sorted(lines[5:]) == ["local eu mon", "local eu tue"]
    given = project.run("p", "--rerun", "-p", "REGION=us")
    assert given.stdout.splitlines()[:2] == ["local us monday-x", "file child us child-day"]


def test_jq_sorts_object_keys_and_prints_a_raw_null_as_an_empty_line(project):
    project.write("j.yaml", """\
steps:
  - name: sorted
    executor: jq
    command: '.'
    script: '{"name": "John", "age": 30, "nested": {"z": 1, "a": 2}}'
  - name: rawnull
    executor: {type: jq, config: {raw: true}}
    command: '.missing, .name'
    script: '{"name": "n"}'
    output: R
  - command: echo "R=[${R}]"
""")
    result = project.run("j")
    assert result.returncode == 0, result.stderr
    # what Dagu 1.30.2 prints (its jq, gojq, sorts keys)
    assert result.stdout == '{\n    "age": 30,\n    "name": "John",\n    "nested": {\n        "a": 2,\n' \
                            '        "z": 1\n    }\n}\n\nn\nR=[n]\n'


def test_an_escaped_reference_is_printed_as_written(project):
    project.write("e.yaml", """\
steps:
  - id: first
    command: echo hello
  - command: |
      echo "unknown=\\${unknown_step.stdout} path=\\${first.stdout} out=\\${OUT}"
""")
    result = project.run("e")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello", "unknown=${unknown_step.stdout} path=${first.stdout} out=${OUT}"]


def test_a_fan_out_without_params_passes_each_item_as_the_childs_params(project):
    project.write("p.yaml", """\
steps:
  - call: child
    parallel: {items: [ok1, "TASK_ID=1 TASK_NAME=alpha", "x y"], maxConcurrent: 1}
---
name: child
params: "TASK_ID=none TASK_NAME=none"
steps:
  - command: 'echo "1=$1 2=$2 id=$TASK_ID name=$TASK_NAME item=[${ITEM}]"'
""")
    result = project.run("p")
    assert result.returncode == 0, result.stderr
    # what Dagu 1.30.2 prints for the same file
    assert result.stdout.splitlines() == ["1=ok1 2= id=none name=none item=[]", "1= 2= id=1 name=alpha item=[]",
                                          "1=x 2=y id=none name=none item=[]"]


def test_log_dir_keeps_each_steps_output_and_the_runs_log_in_files(project):
    project.write("l.yaml", """\
logDir: logs
steps:
  - name: a
    id: first
    command: echo hello; echo oops >&2
  - name: b
    command: echo "a said $(cat ${first.stdout})"; echo "log at $DAG_RUN_LOG_FILE"
""")
    result = project.run("l")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["hello", "a said hello"]
    log = lines[2].removeprefix("log at ")
    assert log.startswith(str(project.path / "logs" / "l")) and log.endswith("/dag.log")
    run = project.path / "logs" / "l"
    (run_dir,) = run.iterdir()
    assert (run_dir / "dag.log").read_text().startswith("--- a\nhello\noops\n--- b\na said hello\n")
    assert sorted(p.name for p in run_dir.iterdir()) == ["_l_a", "_l_b", "dag.log"]
    assert (run_dir / "_l_a" / "stderr.log").read_text() == "oops\n"
    project.write("l.yaml", "logDir: \"$HOME/logs\"\nsteps: [echo]\n")
    assert "l.yaml:1:9: logDir must be a directory path (without quotes, $ or backticks)" in project.digpy("check").stderr


def test_continue_on_skipped_is_said_of_the_step_that_is_skipped(project):
    project.write("c.yaml", """\
type: graph
steps:
  - name: a
    command: echo a
    preconditions: ["false"]
    continueOn: {skipped: true}
  - name: b
    command: echo b-after-flagged-skip
    depends: [a]
  - name: c
    command: echo c
    preconditions: ["false"]
  - name: d
    command: echo d-after-unflagged-skip
    depends: [c]
    continueOn: {skipped: true}
  - name: e
    command: echo e-after-d
    depends: [d]
""")
    result = project.run("c")
    assert result.returncode == 0, result.stderr
    # what Dagu 1.30.2 prints: b runs (a is flagged), d is skipped (c is not), e runs (d is flagged)
    assert sorted(line for line in result.stdout.splitlines() if not line.startswith("skipped:")) == \
        ["b-after-flagged-skip", "e-after-d"]
