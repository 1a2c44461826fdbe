"""docker> and sh> in containers, against a real Docker engine (CI starts one: .ci/services.sh)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.conftest import DOCKER_IMAGE as IMAGE
from tests.conftest import docker_host, require, wait_until

pytestmark = pytest.mark.docker  # skipped where no engine runs (tests/conftest.py says how CI refuses that)


@pytest.fixture(scope="module")
def docker_env():
    import docker

    require("docker")
    host = docker_host()
    client = docker.DockerClient(base_url=host)
    yield {"DOCKER_HOST": host}, client
    client.close()


def test_docker_operator_runs_a_command_with_env_and_volumes(project, docker_env):
    env, _client = docker_env
    project.write("data/input.txt", "from the host\n")
    project.write("wf.dig", f"+run:\n  docker>: echo \"$GREETING\"; cat /in/input.txt; uname -s\n  image: {IMAGE}\n"
                            "  env:\n    GREETING: hello from ${session_date}\n  volumes:\n    - data:/in:ro\n")
    result = project.run("wf", "--session", "2026-06-01", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello from 2026-06-01", "from the host", "Linux"]


def test_sh_runs_in_a_container_with_the_project_mounted(project, docker_env):
    env, _client = docker_env
    project.write("wf.dig", f"_export:\n  docker:\n    image: {IMAGE}\n  who: container\n"
                            "+a:\n  sh>: echo \"$who in $(pwd)\" > made.txt; head -1 /etc/passwd; exit 4\n")
    result = project.run("wf", env=env)
    assert result.returncode == 1
    assert result.stdout == "root:x:0:0:root:/root:/bin/sh\n", "busybox's /etc/passwd, not the host's"
    assert "Command failed with code 4" in result.stderr
    assert (project.path / "made.txt").read_text() == f"container in {project.path}\n"


def test_a_missing_image_is_a_clear_task_error(project, docker_env):
    env, _client = docker_env
    project.write("wf.dig", "+a:\n  docker>: \"true\"\n  image: digpy-test/no-such-image:1\n")
    result = project.run("wf", env=env)
    assert result.returncode == 1
    assert "docker image 'digpy-test/no-such-image:1' is not available locally and could not be pulled" in result.stderr
    assert "Traceback" not in result.stderr


def test_interrupting_the_run_stops_and_removes_the_container(project, docker_env):
    env, client = docker_env
    project.write("wf.dig", f"+a:\n  docker>: echo up; sleep 120\n  image: {IMAGE}\n")
    before = {c.id for c in client.containers.list(all=True)}
    proc = subprocess.Popen([sys.executable, "-m", "digpy", "run", "wf", "--output", "plain"], cwd=project.path,
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "up\n"
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    wait_until(lambda: {c.id for c in client.containers.list(all=True)} <= before, timeout=30,
               what="the container to be removed")


def test_the_documented_example(project, docker_env):
    import shutil
    from pathlib import Path

    env, _client = docker_env
    shutil.copy(Path(__file__).resolve().parents[2] / "projects/operators/docker.dig", project.path / "docker.dig")
    result = project.run("docker", "-p", f"image_name={IMAGE}", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"hello from Linux in {IMAGE}",
                                          f"sh> ran in the container, in {project.path.name}"]


def test_a_dagu_docker_step_runs_its_command_in_the_image_with_the_dag_variables(project, docker_env):
    env, _client = docker_env
    project.write("dag.yaml", f"""\
params:
  - WHO: container
steps:
  - name: inside
    executor:
      type: docker
      config:
        image: {IMAGE}
        pull: false
        autoRemove: true
        container:
          env: ["GREETING=hello"]
    command: echo "$GREETING from the $WHO"; head -1 /etc/passwd
    output: SAID
  - name: after
    command: echo "the container said [$SAID]"
""")
    result = project.run("dag", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["hello from the container", "root:x:0:0:root:/root:/bin/sh",
                                          "the container said [hello from the container", "root:x:0:0:root:/root:/bin/sh]"]


def test_a_dagu_docker_step_mounts_its_volumes(project, docker_env):
    env, _client = docker_env
    project.write("data/input.txt", "from the host\n")
    project.write("extra/note.txt", "bound too\n")
    project.write("dag.yaml", f"""\
steps:
  - name: inside
    executor:
      type: docker
      config:
        image: {IMAGE}
        pull: false
        volumes: ["data:/in:ro"]
        host:
          binds: ["extra:/extra"]
    command: cat /in/input.txt /extra/note.txt; touch /in/nope 2>/dev/null || echo read-only
""")
    result = project.run("dag", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["from the host", "bound too", "read-only"]
