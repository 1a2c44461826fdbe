"""Dagu DAG files (`*.yaml`) run unchanged through the real `digpy` command and the real server."""

from __future__ import annotations

import json

import pytest

from tests.acceptance.test_server import api, wait_done, write_project


def out_lines(result) -> list[str]:
    return result.stdout.splitlines()


def test_a_chain_with_params_env_outputs_and_json_paths(project):
    project.write("etl.yaml", """\
params:
  - WHO: world
  - DAY: monday
env:
  - GREETING: hello
  - FULL: ${GREETING} world
steps:
  - name: greet
    command: echo "$FULL on ${DAY} for $WHO"
    output: GREETED
  - name: config
    command: echo '{"db":{"host":"db1","port":5432}}'
    output: CONFIG
  - name: use
    command: echo "got [${GREETED}] host=${CONFIG.db.host} dag=$DAG_NAME step=$DAG_RUN_STEP_NAME"
  - echo "a bare string step after $DAG_RUN_STEP_NAME"
""")
    result = project.run("etl.yaml")
    assert result.returncode == 0, result.stderr
    assert out_lines(result) == [
        "hello world on monday for world",
        '{"db":{"host":"db1","port":5432}}',
        "got [hello world on monday for world] host=db1 dag=etl step=use",
        "a bare string step after cmd_4",
    ]
    # a param given on the command line wins over its default, by -p and by Dagu's `-- KEY=VALUE`
    again = project.digpy("run", "etl", "--rerun", "--output", "plain", "-p", "DAY=friday", "--", "WHO=team")
    assert again.returncode == 0, again.stderr
    assert out_lines(again)[0] == "hello world on friday for team"


def test_positional_params_from_the_command_line_replace_the_defaults_of_their_positions(project):
    project.write("pos.yaml", "params: \"first second\"\nsteps:\n  - command: echo \"[$1] [$2] [$3] N=$N\"\n")
    project.write("named.yaml", "params:\n  - N: x\nsteps:\n  - command: echo \"[$1] [$2] N=$N\"\n")
    # what Dagu 1.30.2 prints (`dagu start pos.yaml -- z`...), but that a value with a space stays one
    def run(*args: str) -> str:
        return project.digpy("run", "--output", "plain", "--rerun", *args).stdout

    assert run("pos", "--", "a", "it's b", "c") == "[a] [it's b] [c] N=\n"
    assert run("pos", "--", "z") == "[z] [second] [] N=\n"
    assert run("pos") == "[first] [second] [] N=\n"
    assert run("named", "--", "N=n", "q") == "[q] [] N=n\n"


def test_dotenv_files_are_read_not_run_and_win_over_env(project):
    project.write(".env", "# comment\nA=from dotenv\nexport B=\"quoted value\"\nC=$(touch pwned)\n")
    project.write(".env.local", "B=second file\n")
    project.write("d.yaml", "env:\n  - A: from env\ndotenv: .env.local\nsteps:\n  - command: echo \"A=$A B=$B C=$C\"\n")
    result = project.run("d")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "A=from dotenv B=second file C=$(touch pwned)\n"  # what Dagu 1.30.2 prints
    assert not (project.path / "pwned").exists()


def test_stdout_and_stderr_files_get_a_copy_of_the_output(project):
    project.write("files.yaml", """\
steps:
  - name: a
    command: echo to-out; echo to-err >&2
    stdout: logs/a.out
    stderr: logs/a.err
    output: X
  - name: b
    command: echo "X=[$X]"
  - name: c
    command: echo last words; exit 5
    stdout: logs/c.out
""")
    (project.path / "logs").mkdir()
    result = project.run("files")
    assert result.returncode != 0
    assert (project.path / "logs/a.out").read_text() == "to-out\n"
    assert (project.path / "logs/a.err").read_text() == "to-err\n"
    assert (project.path / "logs/c.out").read_text() == "last words\n"
    assert "to-out\nX=[to-out]\nlast words\n" in result.stdout and "to-err" in result.stderr
    assert "+files+c failed: Command failed with code 5" in result.stderr


def test_step_references_read_a_step_s_output_files_and_exit_code(project, tmp_path):
    # What Dagu 1.30.2 prints for this file, but for the paths (its log files; digpy's copies):
    # references are pasted into the text before the shell reads it, single quotes included.
    project.write("refs.yaml", """\
steps:
  - name: extract
    id: ex
    command: sh -c 'echo rows; echo warning >&2; exit 3'
    continueOn: {failure: true}
  - name: report
    command: echo "code=${ex.exitCode}"; cat ${ex.stdout} ${ex.stderr}; echo 'again ${ex.exit_code}'
  - name: check
    preconditions:
      - condition: "${ex.exitCode}"
        expected: "re:[1-9]"
    command: echo "out=${ex.stdout}"
""")
    result = project.digpy("run", "refs", "--output", "plain", env={"XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    lines = out_lines(result)
    assert lines[:2] == ["rows", "failed, continuing (_continue_on): Command failed with code 3"]
    assert lines[2:6] == ["code=3", "rows", "warning", "again 3"]
    path = lines[6].removeprefix("out=")
    assert path.startswith(str(tmp_path / "cache" / "digpy" / "dagu-steps")) and path.endswith("/stdout.log")
    with open(path, encoding="utf-8") as f:
        assert f.read() == "rows\n"
    assert len(lines) == 7  # the values kept for the references are not printed again


def test_a_graph_runs_by_depends_and_skips_dependents_of_an_unmet_precondition(project):
    project.write("graph.yaml", """\
type: graph
steps:
  - name: when
    id: clock
    command: echo 2026-03-07
    output: DAY
  - name: weekday
    depends: when
    preconditions:
      - condition: "${DAY}"
        expected: "re:\\\\d{4}-\\\\d{2}-0[1-5]"
    command: echo weekday work
  - name: after_weekday
    depends: [weekday]
    command: echo never runs
  - name: holiday
    depends: when
    preconditions: ["test $DAY = 2026-12-25"]
    continueOn:
      skipped: true
    command: echo holiday work
  - name: cleanup
    depends: [holiday]
    command: echo cleanup runs anyway
  - name: weekend
    depends: clock
    preconditions:
      - condition: "`echo $DAY | cut -c9-10`"
        expected: "re:0[6-7]"
      - test -n "$DAY"
    command: echo weekend work
""")
    result = project.run("graph")
    assert result.returncode == 0, result.stderr
    assert "weekday work" not in result.stdout and "never runs" not in result.stdout
    # Dagu's continueOn.skipped is said of the step that is skipped: the steps after it still run
    assert "holiday work" not in result.stdout and "cleanup runs anyway" in result.stdout
    assert "weekend work" in result.stdout
    assert "skipped: precondition not met: '2026-03-07'" in result.stdout
    assert "skipped: a task it depends on was skipped" in result.stdout


def test_retries_continue_on_and_handlers(project):
    marker = project.path / "tries"
    project.write("flaky.yaml", f"""\
steps:
  - name: tolerated
    command: echo WARN disk nearly full; exit 3
    continueOn:
      output: ["re:WARN.*"]
  - name: flaky
    command: echo x >> {marker}; test $(wc -l < {marker}) -ge 3 || exit 7
    retryPolicy:
      limit: 5
      intervalSec: 0
      exitCode: [7]
  - name: retried_then_tolerated
    command: echo y >> {marker}.2; exit 4
    retryPolicy: {{limit: 2, intervalSec: 0}}
    continueOn: {{exitCode: [4]}}
  - name: broken
    command: exit 9
    retryPolicy:
      limit: 3
      exitCode: [7]
handlerOn:
  success:
    command: echo "success handler"
  failure:
    command: echo "failure handler status=$DAG_RUN_STATUS"
  exit:
    command: echo "exit handler status=$DAG_RUN_STATUS"
""")
    result = project.run("flaky")
    assert result.returncode != 0
    assert marker.read_text().count("x") == 3, "retried on exit code 7 until it passed"
    assert (project.path / "tries.2").read_text().count("y") == 3, "continueOn applies once the retries are spent"
    assert "failed, continuing (_continue_on)" in result.stdout
    assert result.stderr.count("+flaky+broken: sh>") == 1, "exit code 9 is not one to retry"
    assert "failure handler status=failed" in result.stdout
    assert "exit handler status=failed" in result.stdout
    assert "success handler" not in result.stdout


def test_child_dags_outputs_and_a_fan_out_with_a_failure(project):
    project.write("child.yaml", """\
params:
  - X: default
steps:
  - command: echo "child got $X"
    output: RESULT
""")
    project.write("main.yaml", """\
steps:
  - name: call_child
    run: child
    params: "X=hello"
  - name: old_style
    executor: dag
    command: child
    params: "X=old"
  - name: show
    command: echo "child said ${call_child.outputs.RESULT}, then ${old_style.outputs.RESULT}"
  - name: fan
    call: item
    parallel:
      items: [a, b, bad, a, c]
      maxConcurrent: 2
    params: "NAME=${ITEM}"
---
name: item
params:
  - NAME: none
steps:
  - command: 'echo "item $NAME"; test "$NAME" != bad'
""")
    result = project.run("main")
    assert result.returncode != 0
    assert "child said child got hello, then child got old" in result.stdout
    assert "child got old" in result.stdout, "Dagu <= 1.16's executor: dag"
    items = sorted(line for line in out_lines(result) if line.startswith("item "))
    assert items == ["item a", "item b", "item bad", "item c"], "duplicates merged, the others still run"


def test_output_of_a_child_dag_step_and_the_aggregate_of_a_fan_out(project):
    # Dagu 1.30.2's JSON for this file but for dagRunId (digpy's children are part of the attempt)
    # and the order of the fan-out's children (Dagu's varies from run to run; digpy's is the items')
    project.write("child.yaml", "params: \"N=x\"\nsteps:\n  - name: s\n    command: sh -c 'test \"$N\" != fail && "
                  "echo \"v-$N\"'\n    output: X\n  - name: t\n    command: echo \"w-$N\"\n    output: Y\n")
    project.write("agg.yaml", """\
steps:
  - name: one
    run: child
    params: "N=solo"
    output: ONE
  - name: fan
    run: child
    parallel: [b, a, b, c]
    params: "N=${ITEM}"
    output: AGG
  - name: show
    command: echo "X=${ONE.outputs.X} total=${AGG.summary.total} first=${AGG.outputs[0].Y}"
  - printf '%s' "$ONE" > one.json; printf '%s' "$AGG" > agg.json
""")
    project.write("failing.yaml", """\
steps:
  - name: fan
    run: child
    parallel: [a, fail, b]
    params: "N=${ITEM}"
    output: AGG
handlerOn:
  failure:
    command: echo "failed ${AGG.summary.failed} of ${AGG.summary.total}, ${AGG.results[1].params}, ${AGG.outputs[1].X}"
""")
    result = project.run("agg")
    assert result.returncode == 0, result.stderr
    assert "X=v-solo total=3 first=w-b" in out_lines(result)
    one = json.loads((project.path / "one.json").read_text())
    assert one == {"name": "child", "params": "N=solo", "outputs": {"X": "v-solo", "Y": "w-solo"}, "status": "succeeded"}
    text = (project.path / "agg.json").read_text()
    assert text.startswith('{\n  "summary": {\n    "total": 3,')  # indented by two, as Dagu's
    assert json.loads(text) == {
        "summary": {"total": 3, "succeeded": 3, "failed": 0},
        "results": [{"name": "child", "params": f"N={n}", "outputs": {"X": f"v-{n}", "Y": f"w-{n}"},
                     "status": "succeeded"} for n in "bac"],
        "outputs": [{"X": f"v-{n}", "Y": f"w-{n}"} for n in "bac"]}
    failing = project.run("failing")
    assert failing.returncode != 0
    assert out_lines(failing)[-1] == "failed 1 of 3, N=fail, v-b"


def test_a_fan_out_under_continue_on_is_a_partial_success_the_next_steps_read(project):
    project.write("cont.yaml", """\
steps:
  - name: fan
    run: child
    parallel: [a, fail, b]
    params: "N=${ITEM}"
    output: AGG
    continueOn: {failure: true}
  - name: after
    command: echo "after, failed ${AGG.summary.failed} of ${AGG.summary.total}, ${AGG.outputs[1].X}"
handlerOn:
  success:
    command: echo "success handler"
  failure:
    command: echo "failure handler"
---
name: child
params: "N=x"
steps:
  - name: s
    command: sh -c 'test "$N" != fail && echo "v-$N"'
    output: X
""")
    result = project.run("cont")
    assert result.returncode == 0, result.stderr  # Dagu's `start` exits 1 for a partial success
    assert sorted(out_lines(result)[:2]) == ["v-a", "v-b"]
    assert out_lines(result)[2:] == ["after, failed 1 of 3, v-b", "success handler"]  # as Dagu: onSuccess
    assert "+cont+fan+item_1+run+s failed: Command failed with code 1" in result.stderr
    # over a variable (for_each>), and one child DAG run that fails: continueOn holds for them too
    project.write("child.yaml", "params: \"N=x\"\nsteps:\n  - command: sh -c 'test \"$N\" != fail'\n")
    project.write("contv.yaml", """\
steps:
  - command: echo "a fail b"
    output: ITEMS
  - name: fan
    run: child
    parallel: ${ITEMS}
    params: "N=${ITEM}"
    continueOn: {failure: true}
  - name: one
    run: child
    params: "N=fail"
    continueOn: {failure: true}
  - echo after
""")
    again = project.run("contv")
    assert again.returncode == 0, again.stderr
    assert out_lines(again) == ["a fail b", "after"]


def test_a_group_continue_on_failure_lets_the_tasks_after_it_run(project):
    project.write("g.dig", "+both:\n  _continue_on: {failure: true}\n  _parallel: true\n  +bad:\n    sh>: exit 2\n"
                           "  +good:\n    echo>: good\n+after:\n  echo>: after\n")
    result = project.run("g")
    assert result.returncode == 0, result.stderr
    assert out_lines(result) == ["good", "after"]
    project.write("g.dig", "+both:\n  _continue_on: {exit_code: [2]}\n  +bad:\n    sh>: exit 2\n")
    refused = project.digpy("check")
    assert "g.dig:2:17: +g+both: the _continue_on of a group takes failure (and mark_success) only" in refused.stderr


def test_a_fan_out_over_a_variable(project):
    project.write("fan.yaml", """\
steps:
  - name: list
    command: "echo '[\\"x\\", {\\"k\\": 1}]'"
    output: ITEMS
  - name: words
    command: printf 'p q,r'
    output: WORDS
  - name: over_json
    run: item
    parallel: ${ITEMS}
    params: "NAME=${ITEM}"
  - name: over_words
    run: item
    parallel:
      items: $WORDS
      maxConcurrent: 1
    params: "NAME=${ITEM}"
---
name: item
params:
  - NAME: none
steps:
  - command: echo "item $NAME"
""")
    result = project.run("fan")
    assert result.returncode == 0, result.stderr
    items = [line for line in out_lines(result) if line.startswith("item ")]
    # Dagu 1.30.2 splits at one separator, the most frequent (here the comma): two items
    assert sorted(items[:2]) == ["item x", 'item {"k":1}'] and items[2:] == ["item p q", "item r"]


def test_a_nested_list_runs_side_by_side_and_a_step_timeout_kills_the_command(project):
    project.write("t.yaml", """\
steps:
  - echo start
  - - name: slow_side
      command: i=0; until [ -f fast.done ] || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done; echo slow side
    - name: fast_side
      command: echo fast side; touch fast.done
  - name: joined
    command: echo after both
  - name: stuck
    command: sleep 30; echo never
    timeoutSec: 1
""")
    result = project.run("t", timeout=20)
    assert result.returncode != 0
    assert out_lines(result) == ["start", "fast side", "slow side", "after both"]
    assert "+t+stuck failed: timed out after 1 seconds" in result.stderr


def test_an_interrupted_run_runs_the_cancel_and_exit_handlers(project):
    import signal

    from tests.conftest import wait_until

    project.write("k.yaml", """\
steps:
  - name: long
    command: echo started > started.txt; sleep 120
  - name: after
    command: echo never > after.txt
handlerOn:
  abort:
    command: echo "cancel handler $DAG_RUN_STATUS" > cancel.txt
  exit:
    command: echo "exit handler $DAG_RUN_STATUS" > exit.txt
  success:
    command: echo success > success.txt
""")
    proc = project.start("run", "k", "--output", "plain")
    try:
        wait_until(lambda: (project.path / "started.txt").exists(), what="the step to start")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert (project.path / "cancel.txt").read_text() == "cancel handler aborted\n"
    assert (project.path / "exit.txt").read_text() == "exit handler aborted\n"
    assert not (project.path / "success.txt").exists() and not (project.path / "after.txt").exists()


def test_the_jq_executor_prints_each_result_as_dagu_does(project):
    project.write("jq.yaml", """\
params:
  - KEY: b
steps:
  - name: q
    executor: jq
    command: '.a[] | {x: .${KEY}}'
    script: |
      {"a": [{"b": 1}, {"b": "two"}]}
    output: OUT
  - name: raw
    executor: {type: jq, config: {raw: true}}
    command: '.a[].b'
    script: '{"a": [{"b": 1}, {"b": "two"}]}'
  - name: from_output
    executor: jq
    command: .x
    script: ${OUT}
  - name: bad
    executor: jq
    command: '.x + 1'
    script: '{"x": "text"}'
""")
    result = project.run("jq")
    # what Dagu 1.30.2 prints for q and for raw (over the same JSON)
    assert result.stdout.startswith('{\n    "x": 1\n}\n{\n    "x": "two"\n}\n1\ntwo\n1\n"two"\n'), result.stdout
    assert result.returncode != 0
    assert "+jq+bad failed: jq> string (\"text\") and number (1) cannot be added" in result.stderr


def test_signal_on_stop_is_what_a_timeout_sends_first(project):
    project.write("sig.yaml", """\
steps:
  - name: slow
    signalOnStop: SIGINT
    timeoutSec: 1
    command: trap 'echo got INT; exit 3' INT; trap 'echo got TERM; exit 4' TERM; sleep 30 & wait
""")
    result = project.run("sig")
    assert result.returncode != 0
    assert out_lines(result) == ["got INT"]
    assert "+sig+slow failed: timed out after 1 seconds" in result.stderr


def test_repeat_policies_run_a_step_again(project):
    project.write("r.yaml", """\
steps:
  - name: until_three
    command: echo x >> n.txt
    repeatPolicy:
      repeat: until
      condition: "`wc -l < n.txt | tr -d ' '`"
      expected: "3"
      intervalSec: 0
  - name: while_code
    command: echo y >> m.txt; test $(wc -l < m.txt) -ge 2 || exit 4
    repeatPolicy:
      repeat: while
      exitCode: [4]
  - name: limited
    command: echo tick
    repeatPolicy:
      repeat: true
      limit: 3
""")
    result = project.run("r")
    assert result.returncode == 0, result.stderr
    assert (project.path / "n.txt").read_text() == "x\n" * 3
    assert (project.path / "m.txt").read_text() == "y\n" * 2
    assert result.stdout.count("tick") == 3


def test_a_dig_workflow_uses_the_same_engine_features(project):
    project.write("wf.dig", """\
_parallel: true
+a:
  sh>: echo "  padded  "
  output: OUT
+b:
  _after: +a
  _precondition: [{condition: "${OUT}", expected: "re:pad.*"}]
  sh>: echo "b sees [$OUT]"
+c:
  _precondition: "test -f /nonexistent/file"
  sh>: echo never
+d:
  _after: +c
  _continue_on: {skipped: true, exit_code: [4]}
  sh>: echo d runs; exit 4
""")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert "b sees [padded]" in result.stdout
    assert "never" not in result.stdout and "d runs" in result.stdout


@pytest.mark.parametrize(("text", "message"), [
    ("steps:\n  - name: a\n    comand: echo hi\n",
     "bad.yaml:3:5: step 'a': unknown key 'comand'; did you mean 'command'?"),
    ("handlerOn:\n  exit: echo\nhandler_onn: {}\nsteps: [echo]\n",
     "bad.yaml:3:1: DAG 'bad': unknown key 'handler_onn'; did you mean 'handler_on' or 'handlerOn'?"),
    ("smtp: {host: mail.example.test, password: hunter2}\nsteps: [echo]\n",
     "bad.yaml:1:33: smtp.password is not read from the DAG file by digpy; store it as the secret mail.password"),
    ("mailOn: {failure: true}\nsteps: [echo]\n", "bad.yaml:1:9: mailOn.failure needs errorMail (from, to)"),
    ("registryAuths: {ghcr.io: x}\nsteps: [echo hi]\n",
     "bad.yaml:1:1: DAG 'bad': 'registryAuths' is not supported yet by digpy"),
    ("steps:\n  - name: a\n    command: echo\n    signalOnStop: SIGKILL\n",
     "bad.yaml:4:19: _stop_signal must be a signal such as SIGINT or SIGTERM, not 'SIGKILL'"),
    ("steps:\n  - name: a\n    command: echo\n    repeatPolicy: {repeat: until, intervalSec: 1}\n",
     "bad.yaml:4:19: _repeat mode until needs a condition or exit_code"),
    ("type: graph\nsteps:\n  - name: a\n    command: echo\n    depends: b\n  - name: b\n    command: echo\n"
     "    depends: a\n", "bad.yaml:5:14: the steps depend on each other in a cycle: a → b → a"),
    ("steps:\n  - name: a\n    command: echo\n    depends: [zz]\n",
     "bad.yaml:4:14: step 'a' depends on 'zz', which is no step of this DAG"),
    ("steps:\n  - name: a\n    command: echo\n    max_active_steps: 1\n",
     "bad.yaml:4:5: step 'a': unknown key 'max_active_steps'"),
    ("steps:\n  - name: a\n    command: echo\n    continueOn: {failure: true, exitcode: [1]}\n",
     "bad.yaml:4:33: continueOn: unknown key 'exitcode'; did you mean 'exit_code' or 'exitCode'?"),
    ("steps:\n  - name: a\n    command: echo\n    retryPolicy: {limit: 2, intervalSec: 1, interval_sec: 2}\n",
     "bad.yaml:4:45: retryPolicy: 'interval_sec' is given twice (as intervalSec and its other spelling)"),
    ("handlerOn:\n  wait: echo bye\nsteps: [echo]\n",
     "bad.yaml:2:3: handlerOn.wait is not supported yet by digpy"),
    ("steps:\n  - name: a\n    command: echo ${a.exitCode}\n",
     "bad.yaml:3:14: ${a.exitCode}: no step of this DAG has the id a"),
    ("steps:\n  - name: q\n    executor: jq\n    command: '.a[] |'\n    script: '{}'\n",
     "bad.yaml:4:14: step 'q': the jq filter '.a[] |' does not compile"),
    ("steps:\n  - name: a\n    executor: {type: ssh, config: {user: x}}\n    command: hi\n",
     "bad.yaml:3:15: the ssh executor is not supported yet by digpy"),
    ("steps:\n  - name: a\n    executor: {type: http, config: {json: true}}\n    command: GET http://x\n",
     "bad.yaml:3:37: http executor config: 'json' is not supported yet by digpy"),
    ("steps:\n  - name: a\n    type: docker\n    with: {image: alpine, container_name: web}\n    command: echo\n",
     "bad.yaml:4:27: docker executor config: 'container_name' is not supported yet by digpy"),
    ("steps:\n  - name: a\n    executor: dockr\n    command: echo\n",
     "bad.yaml:3:15: unknown executor type 'dockr'"),
    ("schedule: [\"CRON_TZ=Asia/Tokyo 0 1 * * *\", \"0 2 * * *\"]\nsteps: [echo]\n",
     "bad.yaml:1:11: schedules in different CRON_TZ zones are not supported yet by digpy"),
])
def test_bad_files_are_located_errors(project, text, message):
    project.write("bad.yaml", text)
    result = project.digpy("check")
    assert result.returncode != 0
    assert f"error: {message}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_dig_and_a_yaml_file_of_one_name_are_an_error(project):
    project.write("etl.dig", "+x:\n  echo>: hi\n")
    project.write("etl.yaml", "steps: [echo hi]\n")
    result = project.digpy("check")
    assert result.returncode != 0
    assert "error: two workflow files are named 'etl': etl.dig and etl.yaml" in result.stderr


def test_check_lists_yaml_and_dig_workflows_with_the_yaml_schedule(project):
    project.write("a.dig", "+x:\n  echo>: hi\n")
    project.write("params.yml", "db: {host: x}\n")  # YAML without steps: not a workflow (a -P file)
    project.write("nightly.yml", "schedule: \"CRON_TZ=Asia/Tokyo 30 2 * * *\"\nsteps:\n  - echo hi\n")
    result = project.digpy("check")
    assert result.returncode == 0, result.stderr
    assert "a (" in result.stdout and "nightly (" in result.stdout and "params" not in result.stdout.split("Parameters")[0]
    assert "cron>: 30 2 * * *" in result.stdout and "02:30:00 +0900" in result.stdout  # CRON_TZ=Asia/Tokyo


def test_a_schedule_list_runs_at_each_of_its_crons(project):
    project.write("twice.yaml", "schedule: [\"30 2 * * *\", \"15 14 * * 1\"]\nsteps:\n  - echo hi\n")
    result = project.digpy("check")
    assert result.returncode == 0, result.stderr
    assert "cron>: 30 2 * * * | 15 14 * * 1" in result.stdout, result.stdout


def test_dagu_files_push_and_run_on_the_server(server, tmp_path):
    project = write_project(tmp_path / "dagu", {
        "report.yaml": """\
schedule: "0 6 * * *"
params:
  - REGION: eu
steps:
  - name: extract
    command: echo "rows for $REGION"
    output: ROWS
  - name: load
    preconditions:
      - condition: "${ROWS}"
        expected: "re:rows for .*"
    command: echo "loaded ${ROWS}"
  - name: flaky
    command: exit 3
    continueOn: {failure: true}
  - name: skipped
    preconditions: ["false"]
    command: echo never
handlerOn:
  exit:
    command: echo "done $DAG_RUN_STATUS"
""",
        "plain.dig": "+a:\n  echo>: hi\n",
    })
    pushed = server.digpy("push", "dagu", "--project", str(project))
    assert pushed.returncode == 0, pushed.stderr
    assert "Workflows: plain, report" in pushed.stdout
    status, schedules = api(server, "GET", "/api/schedules")
    assert status == 200
    assert [s["workflow"]["name"] for s in schedules["schedules"]] == ["report"]
    started = server.digpy("start", "dagu", "report", "--session", "2026-02-01", "-p", "REGION=us", "--json")
    assert started.returncode == 0, started.stderr
    attempt = json.loads(started.stdout)
    done = wait_done(server, attempt["id"])
    assert (done["status"], done["success"], done["partially_succeeded"]) == ("success", True, True)  # flaky failed
    status, fetched = api(server, "GET", f"/api/attempts/{attempt['id']}")
    assert (fetched["success"], fetched["partiallySucceeded"]) == (True, True)  # Digdag's field, and Dagu's word
    shown = server.digpy("attempt", attempt["id"]).stdout
    assert "status:       success (partially succeeded)" in shown, shown
    status, succeeded = api(server, "GET", "/api/attempts?status=success")
    assert attempt["id"] in [a["id"] for a in succeeded["attempts"]]
    tasks = {t["full_name"]: t["state"] for t in json.loads(server.digpy("tasks", attempt["id"], "--json").stdout)}
    assert tasks["+report+extract"] == tasks["+report+load"] == tasks["+report+on_exit"] == "success"
    status, listed = api(server, "GET", f"/api/attempts/{attempt['id']}/tasks")
    assert status == 200
    by_name = {t["fullName"]: t for t in listed["tasks"]}  # Digdag's state, and Dagu's word as digpy's status
    assert (by_name["+report+skipped"]["state"], by_name["+report+skipped"]["status"]) == ("success", "skipped")
    assert (by_name["+report+load"]["state"], by_name["+report+load"]["status"]) == ("success", "success")
    flaky = by_name["+report+flaky"]  # failed under continueOn: Dagu's "failed", a success for Digdag's clients
    assert (flaky["state"], flaky["status"], flaky["error"]["continued"]) == ("success", "failed", True)
    listing = server.digpy("tasks", attempt["id"]).stdout
    assert any("+report+skipped" in line and "success (skipped)" in line for line in listing.splitlines())
    assert not any("+report+load" in line and "(skipped)" in line for line in listing.splitlines())
    assert any("+report+flaky" in line and "success (failed)" in line for line in listing.splitlines())
    log = server.digpy("log", attempt["id"]).stdout
    assert "loaded rows for us" in log and "done partially_succeeded" in log  # Dagu 1.30.2 too
    (project / "broken.yml").write_text("steps:\n  - name: a\n    comand: echo\n")
    refused = server.digpy("push", "dagu", "--project", str(project))
    assert refused.returncode != 0
    assert "broken.yml:3:5: step 'a': unknown key 'comand'; did you mean 'command'?" in refused.stderr
    assert "skipped: precondition `false` exited with 1" in log


def test_the_example_project_runs(tmp_path):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    example = tmp_path / "dagu"
    shutil.copytree(Path(__file__).resolve().parents[2] / "projects" / "dagu", example)
    result = subprocess.run([sys.executable, "-m", "digpy", "run", "report", "--output", "plain", "--", "REGION=us"],
                            cwd=example, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert out_lines(result) == ["42 rows for us", "checked 42 rows for us; files go to out", "loaded into us", "report done (succeeded)"]
    assert (example / "out" / "last.txt").read_text() == "loaded into us\n"


def test_killing_a_dagu_attempt_on_the_server_runs_its_cancel_handler(server, tmp_path):
    from tests.conftest import wait_until

    started = tmp_path / "started"
    project = write_project(tmp_path / "k", {"k.yaml": f"""\
steps:
  - name: long
    command: touch {started}; sleep 120
handlerOn:
  cancel:
    command: echo "cancel handler $DAG_RUN_STATUS"
"""})
    assert server.digpy("push", "k", "--project", str(project)).returncode == 0
    attempt = json.loads(server.digpy("start", "k", "k", "--json").stdout)
    wait_until(started.exists, what="the step to start")
    assert server.digpy("kill", attempt["id"]).returncode == 0
    done = wait_done(server, attempt["id"])
    assert done["status"] == "killed"
    tasks = {t["full_name"]: t["state"] for t in json.loads(server.digpy("tasks", attempt["id"], "--json").stdout)}
    assert tasks["+k^cancel+on_cancel"] == "success"
    assert "cancel handler aborted" in server.digpy("log", attempt["id"]).stdout


def test_an_output_over_max_output_size_fails_the_step(project):
    project.write("m.yaml", "maxOutputSize: 10\nsteps:\n  - name: a\n    command: echo 0123456789abcdef\n"
                            "    output: X\n  - name: b\n    command: echo never\n")
    result = project.run("m")
    assert result.returncode != 0
    assert "+m+a failed: the output kept as X is over 10 bytes (max_output_size)" in result.stderr
    assert "never" not in result.stdout
