"""Dagu's `container:` (DAG level: one container the steps share; step level: a container of its own)
and the engine's `docker: {shared: true}` under it, run by the real `digpy` against a real Docker engine."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

from tests.acceptance.test_server import wait_done, write_project
from tests.conftest import DOCKER_IMAGE, Server, docker_host, require, wait_until

pytestmark = pytest.mark.docker
LABEL = "digpy.attempt"
SECOND_IMAGE = "digpy-test/busybox-second:latest"  # built here from the test image: no registry


@pytest.fixture
def docker_env():
    import docker

    require("docker")
    client = docker.DockerClient(base_url=docker_host())
    yield {"DOCKER_HOST": docker_host()}, client
    client.close()


def ours(client) -> set[str]:
    """The ids of every container digpy shares in an attempt (running or not)."""
    return {c.id for c in client.containers.list(all=True, filters={"label": LABEL})}


def exists(client, short_id: str) -> bool:
    return any(c.id.startswith(short_id) for c in client.containers.list(all=True))


STARTER = f"""\
description: Run workflow steps in a container
container:
  image: {DOCKER_IMAGE}
  volumes:
    - ./data:/data
steps:
  # inside the container only (not a volume): the next step sees it because the container is shared
  - sh -c "echo Hello from the shared container > /tmp/inside.txt; hostname > /data/host.txt"
  - cat /tmp/inside.txt
  - sh -c "cat /tmp/inside.txt > /data/copy.txt"
"""


def test_the_dag_container_is_shared_by_the_steps_and_removed_when_the_run_ends(project, docker_env):
    env, client = docker_env
    (project.path / "data").mkdir()
    project.write("starter.yaml", STARTER)
    result = project.run("starter", env=env)
    assert result.returncode == 0, result.stderr
    assert "Hello from the shared container" in result.stdout
    assert (project.path / "data/copy.txt").read_text() == "Hello from the shared container\n"
    host = (project.path / "data/host.txt").read_text().strip()
    assert host and not exists(client, host)  # the run's container is gone


def test_a_failed_run_removes_its_container_too(project, docker_env):
    env, client = docker_env
    project.write("fails.yaml", f"""\
container:
  image: {DOCKER_IMAGE}
  env: [WHO=dagu]
steps:
  - name: first
    command: sh -c "hostname > {project.path}/host.txt; echo $WHO > /tmp/who"
  - name: second
    command: sh -c "cat /tmp/who; exit 4"
""")
    result = project.run("fails", env=env)
    assert result.returncode == 1
    assert "dagu\n" in result.stdout
    assert "Command failed with code 4" in result.stderr
    host = (project.path / "host.txt").read_text().strip()
    assert host and not exists(client, host)


def test_a_step_container_runs_in_its_own_image(project, docker_env):
    env, client = docker_env
    client.images.build(fileobj=io.BytesIO(f"FROM {DOCKER_IMAGE}\nENV WHICH=second\n".encode()), tag=SECOND_IMAGE,
                        rm=True)
    project.write("mixed.yaml", f"""\
container:
  image: {DOCKER_IMAGE}
steps:
  - sh -c "touch /tmp/shared-mark"
  - name: own
    container:
      image: {SECOND_IMAGE}
      env: [GREETING=hi]
    command: |
      sh -c 'echo "image=$WHICH greeting=$GREETING"; ls /tmp/shared-mark || echo not the shared container'
  - name: back
    command: |
      sh -c 'echo "back: image=$WHICH"; ls /tmp/shared-mark'
""")
    result = project.run("mixed", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "image=second greeting=hi" in lines
    assert "not the shared container" in lines
    assert "back: image=" in lines and "/tmp/shared-mark" in lines


def test_exec_runs_the_steps_in_a_running_container_that_stays(project, docker_env):
    env, client = docker_env
    name = f"digpy-test-exec-{uuid.uuid4().hex[:8]}"
    running = client.containers.run(DOCKER_IMAGE, ["sleep", "600"], name=name, detach=True)
    try:
        project.write("exec.yaml", f"""\
container:
  exec: {name}
  workingDir: /tmp
steps:
  - sh -c "pwd; echo kept > here.txt"
  - name: step container
    container: {name}
    command: cat /tmp/here.txt
""")
        result = project.run("exec", env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[:2] == ["/tmp", "kept"]
        running.reload()
        assert running.status == "running"
    finally:
        running.remove(force=True)


def test_the_engine_option_in_a_dig_file(project, docker_env):
    env, client = docker_env
    project.write("wf.dig", rf"""_export:
  docker:
    image: {DOCKER_IMAGE}
    shared: true
+install:
  sh>: echo 'echo tool ran' > /bin/tool && chmod +x /bin/tool
+use:
  sh>: tool; hostname > host.txt
+timed_out:
  _timeout: 1
  _continue_on: {{failure: true}}
  sh>: sleep 71 & sleep 72
+after:
  sh>: if ps | grep -q "sleep 7[12]"; then echo still there; else echo its processes were stopped; fi
+fake_python:  # the image has no Python: one that checks what py> hands it and writes a result
  sh>: |
    printf '#!/bin/sh\ntest -f "$1" && grep -q tasks.answer "$2" && echo {{\\"store\\": {{\\"answer\\": 42}}}} > "$3"\n' > /bin/fakepy
    chmod +x /bin/fakepy
+py:
  py>: tasks.answer
  python: /bin/fakepy
+show:
  sh>: echo "py> stored ${{answer}}"
""")
    result = project.run("wf", env=env)
    assert result.returncode == 0, result.stderr
    assert "tool ran" in result.stdout
    assert "its processes were stopped" in result.stdout
    assert "py> stored 42" in result.stdout  # its runtime and request copied in, its result back
    assert not exists(client, (project.path / "host.txt").read_text().strip())


@pytest.mark.slow
def test_a_resumed_session_first_removes_the_container_a_killed_run_left(project, docker_env):
    env, client = docker_env
    started = project.path / "started"
    go_on = project.path / "go-on"
    project.write("crash.yaml", f"""\
container:
  image: {DOCKER_IMAGE}
steps:
  - sh -c "hostname > {project.path}/host.txt"
  - sh -c "test -f {go_on} || {{ touch {started}; sleep 120; }}"
""")
    proc = subprocess.Popen([sys.executable, "-m", "digpy", "run", "crash", "--output", "plain"], cwd=project.path,
                            env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(started.exists, what="the second step to start")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    first = (project.path / "host.txt").read_text().strip()
    assert exists(client, first)  # what a crash leaves
    go_on.touch()
    result = project.run("crash", env=env)  # the same session: resumed
    assert result.returncode == 0, result.stderr
    assert not exists(client, first)


@pytest.mark.slow
def test_on_a_server(tmp_path, docker_env):
    env, client = docker_env
    server = Server(tmp_path / "server", None, env=env)
    server.start()
    try:
        project = write_project(tmp_path / "c", {"starter.yaml": STARTER.replace("./data:/data", "/tmp:/host-tmp")
                                                 .replace("/data/", f"/host-tmp/digpy-{tmp_path.name}-")})
        assert server.digpy("push", "c", "--project", str(project)).returncode == 0
        started = server.digpy("start", "c", "starter", "--json")
        assert started.returncode == 0, started.stderr
        attempt = json.loads(started.stdout)
        done = wait_done(server, attempt["id"])
        assert done["success"] is True, server.digpy("log", attempt["id"]).stdout
        assert "Hello from the shared container" in server.digpy("log", attempt["id"]).stdout
        host = open(f"/tmp/digpy-{tmp_path.name}-host.txt").read().strip()
        assert host and not exists(client, host)
    finally:
        server.stop()
        for name in ("host.txt", "copy.txt"):
            if os.path.exists(f"/tmp/digpy-{tmp_path.name}-{name}"):
                os.unlink(f"/tmp/digpy-{tmp_path.name}-{name}")


@pytest.mark.parametrize(("text", "message"), [
    ("container:\n  image: x\n  ports: ['80:80']\nsteps: [echo]\n",
     "bad.yaml:3:3: container: 'ports' is not supported yet by digpy"),
    ("container:\n  image: x\n  startup: entrypoint\nsteps: [echo]\n",
     "bad.yaml:3:12: container: startup 'entrypoint' is not supported yet by digpy"),
    ("container:\n  volumes: ['/a:/b']\nsteps: [echo]\n",
     "bad.yaml:2:3: container needs an image (or exec: the name of a running container)"),
    ("container:\n  exec: box\n  volumes: ['/a:/b']\nsteps: [echo]\n",
     "bad.yaml:3:3: container: 'volumes' can't be used with exec (a running container)"),
    ("container:\n  image: x\n  volumes: ['data:/data']\nsteps: [echo]\n",
     "bad.yaml:3:12: container volumes: 'data' (a named volume, or a path from ~) is not supported yet by digpy"),
    ("steps:\n  - name: a\n    container: {image: x, keepContainer: true}\n    command: echo\n",
     "bad.yaml:3:27: step container: 'keepContainer' is not supported yet by digpy"),
    ("steps:\n  - name: a\n    type: docker\n    with: {image: x}\n    container: {image: x}\n    command: echo\n",
     "bad.yaml:3:5: a step with a container has no type (it runs in its container)"),
    ("container: {image: x, imag: y}\nsteps: [echo]\n",
     "bad.yaml:1:23: container: unknown key 'imag'"),
])
def test_bad_container_keys_are_located_errors(project, text, message):
    project.write("bad.yaml", text)
    result = project.digpy("check")
    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
