"""Dagu's docker executor with limits, user and platform (against a real Docker engine), and the mail
executor (against a real SMTP server), run through the real `digpy` command."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from tests.conftest import DOCKER_IMAGE as IMAGE
from tests.conftest import docker_host

# What the container reads of its own limits, on cgroup v2 and v1 engines alike: the memory limit
# in bytes, the CPU quota per 100 ms period, the pids limit, /dev/shm's size in KiB, its group.
CGROUP_SCRIPT = (
    "if [ -f /sys/fs/cgroup/memory.max ]; then cat /sys/fs/cgroup/memory.max; "
    "cut -d' ' -f1 /sys/fs/cgroup/cpu.max; cat /sys/fs/cgroup/pids.max; "
    "else cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us "
    "/sys/fs/cgroup/pids/pids.max; fi; df -k /dev/shm | awk 'NR==2 {print $2}'; id -g"
)


@pytest.fixture
def docker_env() -> dict[str, str]:
    return {"DOCKER_HOST": docker_host()}


def image_platform() -> str:
    import docker

    client = docker.DockerClient(base_url=docker_host())
    try:
        attrs = client.images.get(IMAGE).attrs
    finally:
        client.close()
    return f"{attrs['Os']}/{attrs['Architecture']}"


@pytest.mark.docker
def test_the_docker_executor_sets_memory_cpu_pids_shm_user_and_platform(project, docker_env):
    # Dagu 1.30's spelling: Docker's HostConfig fields in any case, the container's user
    project.write("limits.yaml", f"""\
steps:
  - name: limited
    executor:
      type: docker
      config:
        image: {IMAGE}
        pull: never
        platform: {image_platform()}
        container:
          user: "0:1234"
        host:
          Memory: 67108864
          NanoCPUs: 500000000
          PidsLimit: 50
          ShmSize: 32m
    command: {CGROUP_SCRIPT}
""")
    result = project.run("limits", env=docker_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["67108864", "50000", "50", "32768", "1234"]


@pytest.mark.docker
def test_v2_keys_and_docker_resources_as_dagu_reads_them(project, docker_env):
    # v2's `type` + `with`; Docker's Resources nested under host (where Dagu 1.30 reads them), sizes with units
    project.write("v2.yaml", f"""\
steps:
  - name: limited
    type: docker
    with:
      image: {IMAGE}
      working_dir: /tmp
      host:
        resources: {{memory: 96m, cpu_quota: 25000, cpu_period: 50000}}
    command: {CGROUP_SCRIPT}; pwd
""")
    result = project.run("v2", env=docker_env)
    assert result.returncode == 0, result.stderr
    # CpuQuota over CpuPeriod is half a CPU, which the engine sets per its default 100 ms period
    assert result.stdout.split() == ["100663296", "50000", "max", "65536", "0", "/tmp"]


@pytest.mark.docker
def test_a_platform_the_image_does_not_have_fails_the_step_clearly(project, docker_env):
    other = "linux/s390x" if image_platform() != "linux/s390x" else "linux/amd64"
    project.write("arm.yaml", f"steps:\n  - name: a\n    executor:\n      type: docker\n      config:\n"
                              f"        image: {IMAGE}\n        platform: {other}\n    command: echo hi\n")
    result = project.run("arm", env=docker_env)
    assert result.returncode == 1
    assert f"wanted {other}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.docker
@pytest.mark.slow  # two containers: over 5 s on the vfs storage driver
def test_dig_workflows_set_the_same_limits_on_docker_and_on_sh_in_a_container(project, docker_env):
    project.write("wf.dig", f"""\
+op:
  docker>: {CGROUP_SCRIPT}
  image: {IMAGE}
  memory: 64m
  cpus: 0.5
  pids_limit: 50
  shm_size: 32m
  user: "0:1234"
+sh:
  _export:
    docker:
      image: {IMAGE}
      memory: 1g
      cpus: 1.5
  sh>: {CGROUP_SCRIPT}
""")
    result = project.run("wf", env=docker_env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split()
    assert lines[:5] == ["67108864", "50000", "50", "32768", "1234"]
    assert lines[5:7] == [str(1 << 30), "150000"]
    assert lines[9] == "0"  # no user: the image's (root)


@pytest.mark.docker
def test_a_bad_limit_in_a_dig_workflow_fails_its_task_with_the_option_named(project, docker_env):
    project.write("wf.dig", f"+a:\n  docker>: echo hi\n  image: {IMAGE}\n  memory: lots\n")
    result = project.run("wf", env=docker_env)
    assert result.returncode == 1
    assert "docker> memory must be a size such as 512m or 2g (or a number of bytes), got 'lots'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("text, message", [
    ("steps:\n  - name: a\n    executor:\n      type: docker\n      config:\n        image: x\n"
     "        host: {Memory: lots}\n    command: echo\n",
     "bad.yaml:7:24: docker host.Memory must be a size such as 512m or 2g (or a number of bytes), got 'lots'"),
    ("steps:\n  - name: a\n    type: docker\n    with:\n      image: x\n      host: {memory: 1k}\n    command: echo\n",
     "bad.yaml:6:22: docker host.memory must be at least 6m, got '1k'"),
    ("steps:\n  - name: a\n    type: docker\n    with:\n      image: x\n      host: {CpuShares: 512}\n"
     "    command: echo\n",
     "bad.yaml:6:14: docker host: 'CpuShares' is not supported yet by digpy; supported: networkMode, binds"),
    ("steps:\n  - name: a\n    type: docker\n    with:\n      image: x\n"
     "      host: {NanoCPUs: 1000000000, resources: {CpuQuota: 50000}}\n    command: echo\n",
     "bad.yaml:6:24: docker host: NanoCPUs and CpuQuota are two ways to limit the CPUs: give one"),
    ("steps:\n  - name: a\n    type: docker\n    with:\n      image: x\n      host: {memory: 64m, Memory: 64m}\n"
     "    command: echo\n",
     "bad.yaml:6:27: docker host: 'Memory' is given twice (as memory and Memory)"),
    ("steps:\n  - name: a\n    type: docker\n    with: {image: x, platform: arm64}\n    command: echo\n",
     "bad.yaml:4:32: docker platform is os/arch[/variant] such as linux/amd64, got 'arm64'"),
    ("steps:\n  - name: a\n    type: docker\n    with: {image: x, container: {Hostname: h}}\n    command: echo\n",
     "bad.yaml:4:34: docker container: 'Hostname' is not supported yet by digpy; supported: env, workingDir, user"),
    ("steps:\n  - name: m\n    executor: {type: mail, config: {to: a@example.test, from: b@example.test}}\n",
     "bad.yaml:3:15: step 'm': the mail executor needs a subject"),
    ("steps:\n  - name: m\n    executor: {type: mail, config: {to: a@example.test, subject: s}}\n",
     "bad.yaml:3:15: step 'm': the mail executor needs from and to"),
    ("steps:\n  - name: m\n    type: mail\n    with: {to: a@example.test, from: b@example.test, subject: s, cc: c}\n",
     "bad.yaml:4:66: mail executor config: 'cc' is not supported yet by digpy"),
    ("steps:\n  - name: m\n    type: mail\n    with: {to: a@example.test, from: b@example.test, subject: s}\n"
     "    command: echo\n",
     "bad.yaml:5:5: step 'm' uses the mail executor and can't have command"),
])
def test_bad_executor_configs_are_located_errors(project, text, message):
    project.write("bad.yaml", text)
    result = project.digpy("check")
    assert result.returncode != 0
    assert f"error: {message}" in result.stderr, result.stderr


def test_the_mail_executor_sends_through_the_dags_smtp_with_variables_expanded(project, smtp):
    port, inbox = smtp
    project.write("report.csv", "a,b\n1,2\n")
    project.write("report.yaml", f"""\
smtp:
  host: 127.0.0.1
  port: "{port}"
env:
  - TEAM: data
steps:
  - name: count
    command: echo '42 rows, ${{not_a_variable}} $$5'
    output: OUT
  - name: send
    executor:
      type: mail
      config:
        to: [ops@example.test, "${{TEAM}}@example.test"]
        from: dagu@example.test
        subject: "Loaded ${{OUT}}"
        message: |
          Hello $TEAM,
          we loaded ${{OUT}}.
        attachments: [report.csv]
handlerOn:
  success:
    type: mail
    with: {{to: ops@example.test, from: dagu@example.test, subject: "${{DAG_NAME}} done"}}
""")
    result = project.run("report")
    assert result.returncode == 0, result.stderr
    assert [(sender, to) for sender, to, _raw in inbox.messages] == [
        ("dagu@example.test", ["ops@example.test", "data@example.test"]),
        ("dagu@example.test", ["ops@example.test"]),
    ]
    first, done = (message_from_bytes(raw, policy=policy.default) for _s, _t, raw in inbox.messages)
    assert first["Subject"] == "Loaded 42 rows, ${not_a_variable} $$5"
    assert first["To"] == "ops@example.test, data@example.test"
    assert first.get_body(("plain",)).get_content().replace("\r\n", "\n") == \
        "Hello data,\nwe loaded 42 rows, ${not_a_variable} $$5.\n"
    attachment = next(first.iter_attachments())
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content().replace("\r\n", "\n") == "a,b\n1,2\n"
    assert done["Subject"] == "report done"
