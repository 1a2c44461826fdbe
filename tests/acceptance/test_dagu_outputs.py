"""Dagu's outputs and references that read a step which is no plain shell step: `${STEP.outputs...}`
of a fan-out, `output:` of a fan-out over a variable, `${id.stdout}`... of child-DAG, docker, http and
`command` + `script` steps, and the log-file variables; through the real `digpy` and the real server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from tests.acceptance.test_server import wait_done, write_project
from tests.conftest import DOCKER_IMAGE, docker_host, require

CHILD = """\
---
name: child
params: "N=x"
steps:
  - name: s
    command: sh -c 'test "$N" != fail && echo "v-$N"'
    output: V
"""


def lines(result) -> list[str]:
    return result.stdout.splitlines()


def test_the_outputs_of_a_fan_out_are_its_aggregate_s_outputs(project):
    # Dagu 1.30.2 leaves ${fan.outputs...} as it is (its shell then fails); digpy reads the aggregate's
    # `outputs`, as ${STEP.outputs.NAME} of one child reads `outputs` of its JSON
    project.write("fan.yaml", """\
steps:
  - name: fan
    run: child
    parallel: [b, a, b]
    params: "N=${ITEM}"
  - name: show
    command: echo "second=${fan.outputs[1].V}" 'all=${fan.outputs}'
""" + CHILD)
    result = project.run("fan")
    assert result.returncode == 0, result.stderr
    assert lines(result)[-1] == 'second=v-a all=[{"V":"v-b"},{"V":"v-a"}]'
    project.write("fan.yaml", "steps:\n  - name: fan\n    run: child\n    parallel: [a]\n  - echo ${fan.outputs.V}\n"
                  + CHILD)
    refused = project.digpy("check")
    assert refused.returncode != 0
    assert "error: fan.yaml:5:5: ${fan.outputs.V}: a parallel: fan-out has the outputs of each of its children; " \
        "write ${fan.outputs[0].V} (the first child that succeeded)" in refused.stderr, refused.stderr


AGGREGATE = {
    "summary": {"total": 3, "succeeded": 2, "failed": 1},
    "results": [{"name": "child", "params": "N=a", "outputs": {"V": "v-a"}, "status": "succeeded"},
                {"name": "child", "params": "N=fail", "outputs": {}, "status": "failed"},
                {"name": "child", "params": "N=b", "outputs": {"V": "v-b"}, "status": "succeeded"}],
    "outputs": [{"V": "v-a"}, {"V": "v-b"}],
}


def test_output_of_a_fan_out_over_a_variable_is_the_aggregate_a_list_gives(project):
    # the items' order, duplicates merged (Dagu 1.30.2 runs 3 children for "a fail a b" too), the
    # counts, and a failed child's result with empty outputs: as for the same items listed in the file
    project.write("var.yaml", """\
steps:
  - command: echo "a fail a b"
    output: ITEMS
  - name: fan
    run: child
    parallel: ${ITEMS}
    params: "N=${ITEM}"
    output: AGG
    continueOn: {failure: true}
  - name: after
    command: printf '%s' "$AGG" > var.json; echo "failed ${AGG.summary.failed}, ${AGG.outputs[1].V}, ${fan.outputs[0].V}"
""" + CHILD)
    project.write("listed.yaml", (project.path / "var.yaml").read_text()
                  .replace("parallel: ${ITEMS}", "parallel: [a, fail, a, b]").replace("var.json", "listed.json"))
    result = project.run("var")
    assert result.returncode == 0, result.stderr
    assert lines(result)[-1] == "failed 1, v-b, v-a"
    text = (project.path / "var.json").read_text()
    assert text.startswith('{\n  "summary": {\n    "total": 3,')  # indented by two, as Dagu's
    assert json.loads(text) == AGGREGATE
    assert project.run("listed").returncode == 0
    assert (project.path / "listed.json").read_text() == text
    # a child fails and nothing continues: the step fails once all are done, the handler reads the aggregate
    project.write("var.yaml", """\
params:
  - ITEMS: '["a", "fail", "b"]'
steps:
  - name: fan
    run: child
    parallel: ${ITEMS}
    params: "N=${ITEM}"
    output: AGG
handlerOn:
  failure:
    command: echo "failed ${AGG.summary.failed} of ${AGG.summary.total}, ${AGG.results[1].params}, ${AGG.outputs[1].V}"
""" + CHILD)
    failing = project.run("var")
    assert failing.returncode != 0
    assert lines(failing)[-1] == "failed 1 of 3, N=fail, v-b"


def test_references_to_a_step_that_runs_a_child_dag_read_its_json(project):
    # Dagu 1.30.2: the log of such a step holds the child's JSON (output: prints it), its stderr log
    # is empty, and its exit code is 1 when the child (or a child of the fan-out) failed
    project.write("refs.yaml", """\
steps:
  - name: one
    id: one
    run: child
    params: "N=fail"
    continueOn: {failure: true}
  - name: fan
    id: fan
    run: child
    parallel: [a, b]
    params: "N=${ITEM}"
  - name: show
    command: |
      echo "one=${one.exitCode} fan=${fan.exitCode} err=[$(cat ${one.stderr})]"
      cat ${one.stdout} ${fan.stdout}
""" + CHILD)
    result = project.run("refs")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    head = out.index("one=")
    assert out[head:].startswith("one=1 fan=0 err=[]\n")
    one, _, fan = out[head:].split("\n", 1)[1].partition("}\n{")
    # the child's failed step keeps its (empty) output, as on Dagu 1.30.2 (which also lists an internal
    # DAGU_CONTINUE_ON.s there)
    assert json.loads(one + "}") == {"name": "child", "params": "N=fail", "outputs": {"V": ""}, "status": "failed"}
    assert json.loads("{" + fan) == {
        "summary": {"total": 2, "succeeded": 2, "failed": 0},
        "results": [{"name": "child", "params": f"N={n}", "outputs": {"V": f"v-{n}"}, "status": "succeeded"}
                    for n in "ab"],
        "outputs": [{"V": "v-a"}, {"V": "v-b"}]}


def test_a_command_with_a_script_gets_the_dag_s_variables_and_can_be_referenced(project):
    (project.path / "work").mkdir()
    project.write("py.yaml", """\
env:
  - GREETING: hello
steps:
  - name: py
    id: py
    workingDir: work
    command: python3 -u
    script: |
      import os, sys
      print(os.environ["GREETING"], os.environ["DAG_NAME"], os.path.basename(os.getcwd()))
      print("to stderr", file=sys.stderr)
      sys.exit(2)
    continueOn: {failure: true}
  - name: show
    command: echo "code=${py.exitCode} out=$(cat ${py.stdout}) err=$(cat ${py.stderr})"
""")
    result = project.run("py")
    assert result.returncode == 0, result.stderr
    assert lines(result)[0] == "hello py work"
    assert lines(result)[-1] == "code=2 out=hello py work err=to stderr"


@pytest.fixture
def web() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 200 if self.path == "/ok" else 404
            body = b'{"state": "fine"}\n' if code == 200 else b"nothing here\n"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_references_to_http_steps_read_the_body_and_the_outcome(project, web):
    project.write("web.yaml", f"""\
type: graph
steps:
  - name: ok
    id: ok
    executor: {{type: http, config: {{silent: true}}}}
    command: GET {web}/ok
    output: BODY
  - name: missing
    id: missing
    executor: {{type: http, config: {{silent: true}}}}
    command: GET {web}/missing
    continueOn: {{failure: true}}
  - name: show
    depends: [ok, missing]
    command: echo "ok=${{ok.exitCode}} [$(cat ${{ok.stdout}})] ${{BODY.state}} missing=${{missing.exitCode}} [$(cat ${{missing.stdout}})]"
""")
    result = project.run("web")
    assert result.returncode == 0, result.stderr
    assert lines(result)[-1] == 'ok=0 [{"state": "fine"}] fine missing=1 []'


@pytest.mark.docker
def test_references_to_a_docker_step_and_its_step_files(project, tmp_path):
    require("docker")
    project.write("box.yaml", f"""\
steps:
  - name: in a box
    id: box
    executor: {{type: docker, config: {{image: "{DOCKER_IMAGE}", pull: false}}}}
    command: sh -c 'echo "from $(cat /etc/hostname | wc -c) chars"; echo warn >&2; echo "$DAG_RUN_STEP_STDERR_FILE"; exit 4'
    continueOn: {{failure: true}}
  - name: show
    command: echo "code=${{box.exitCode}} out=$(head -1 ${{box.stdout}}) err=$(cat ${{box.stderr}})"; cat "$DAG_RUN_LOG_FILE"
""")
    result = project.run("box", env={"DOCKER_HOST": docker_host(), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert result.returncode == 0, result.stderr
    out = lines(result)
    assert out[0] == "from 13 chars"  # a container's host name: 12 characters
    stderr_file = out[1]
    assert stderr_file.startswith(str(tmp_path / "cache" / "digpy" / "dagu-steps")) and \
        stderr_file.endswith("/stderr.log")
    assert out[3:] == ["code=4 out=from 13 chars err=warn", "--- in a box", "from 13 chars", stderr_file, "warn"]


def test_the_log_file_variables_name_copies_of_the_output(project, tmp_path):
    # Dagu 1.30.2 sets them to its log files (DAG_RUN_LOG_FILE: its own log of the run); digpy, only in
    # a DAG that names them, to copies of each step's output and a log of all steps' copies
    project.write("logs.yaml", """\
steps:
  - name: extract
    command: echo rows; echo warning >&2; echo "$DAG_RUN_STEP_STDOUT_FILE $DAG_RUN_STEP_STDERR_FILE" > files.txt
  - name: load
    command: cat $(cat files.txt)
handlerOn:
  exit:
    command: echo "mailing $DAG_RUN_LOG_FILE"; cat "$DAG_RUN_LOG_FILE"
""")
    project.write("plain.yaml", "steps:\n  - command: env | grep ^DAG_RUN_ | cut -d= -f1 | sort\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = project.run("logs", env=env)
    assert result.returncode == 0, result.stderr
    stdout_file, stderr_file = (project.path / "files.txt").read_text().split()
    assert stdout_file.startswith(str(tmp_path / "cache" / "digpy" / "dagu-steps")) and \
        stdout_file.endswith("/stdout.log") and stderr_file.endswith("/stderr.log")
    out = lines(result)
    assert out[:3] == ["rows", "rows", "warning"]  # extract's output, then load reads extract's copies
    log = out[3].removeprefix("mailing ")
    assert log.startswith(str(tmp_path / "cache" / "digpy" / "dagu-steps")) and log.endswith("/dag.log")
    assert out[4:] == ["--- extract", "rows", "warning", "--- load", "rows", "warning"]
    plain = project.run("plain", env=env)  # a DAG that does not name them: unset
    assert lines(plain) == ["DAG_RUN_ID", "DAG_RUN_STEP_NAME"]


def test_a_fan_out_over_a_variable_with_outputs_and_references_on_the_server(server, tmp_path):
    project = write_project(tmp_path / "outs", {"fan.yaml": """\
steps:
  - command: echo '["b", "fail", "b", "a"]'
    output: ITEMS
  - name: fan
    id: fan
    run: child
    parallel: ${ITEMS}
    params: "N=${ITEM}"
    output: AGG
    continueOn: {failure: true}
  - name: show
    command: echo "code=${fan.exitCode} failed=${AGG.summary.failed} first=${fan.outputs[0].V} $(grep -c status ${fan.stdout})"
""" + CHILD})
    pushed = server.digpy("push", "outs", "--project", str(project))
    assert pushed.returncode == 0, pushed.stderr
    started = server.digpy("start", "outs", "fan", "--session", "2026-02-01", "--json")
    assert started.returncode == 0, started.stderr
    attempt = json.loads(started.stdout)["id"]
    done = wait_done(server, attempt)
    assert (done["status"], done["partially_succeeded"]) == ("success", True)
    log = server.digpy("log", attempt).stdout
    assert "code=1 failed=1 first=v-b 3" in log, log


def test_the_aggregate_of_a_fan_out_over_an_env_entry(project):
    project.write("env.yaml", """\
env:
  - ITEMS: '["a", "b"]'
steps:
  - name: fan
    run: child
    parallel: ${ITEMS}
    params: "N=${ITEM}"
    output: AGG
  - echo "${AGG.summary.total} ${fan.outputs[1].V}"
""" + CHILD)
    result = project.run("env")
    assert result.returncode == 0, result.stderr
    assert lines(result)[-1] == "2 v-b"


def test_a_skipped_fan_out_over_a_variable_skips_its_aggregate_and_references(project):
    # the step after it is skipped; the next runs anyway (Dagu's continueOn.skipped on the skipped
    # step) and reads no aggregate and empty references
    project.write("pre.yaml", """\
params:
  - GO: "yes"
steps:
  - command: echo "a b"
    output: ITEMS
  - name: fan
    id: fan
    run: child
    parallel: ${ITEMS}
    params: "N=${ITEM}"
    output: AGG
    preconditions:
      - condition: "$GO"
        expected: "yes"
  - command: echo "code ${fan.exitCode}"
    continueOn: {skipped: true}
  - command: echo "[$AGG|${fan.exitCode}]" | tr -d ' \\n'
""" + CHILD)
    ran = project.run("pre")
    assert ran.returncode == 0, ran.stderr
    assert lines(ran)[-2] == "code 0"
    assert lines(ran)[-1].startswith('[{"summary":{"total":2,"succeeded":2,"failed":0}')
    assert lines(ran)[-1].endswith("}|0]")
    skipped = project.run("pre", "--rerun", "-p", "GO=no")
    assert skipped.returncode == 0, skipped.stderr
    assert lines(skipped)[-1] == "[|]"
    assert "code" not in skipped.stdout  # the step after it is skipped
