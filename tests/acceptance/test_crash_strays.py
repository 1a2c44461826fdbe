"""A crash leaves nothing running: the commands of a `digpy run`, a server node or an executor
process killed with SIGKILL die with it, and a task run again after a crash never runs beside its
old copy (digpy.core.engine.guard)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.acceptance.test_server import api, write_project
from tests.conftest import Server, empty_postgres, wait_until


def alive(pid: int) -> bool:
    """Whether `pid` is a running process (a zombie waiting to be reaped is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid: int, seconds: float = 2.0) -> None:
    """Poll until `pid` is gone; fail if it is still there after `seconds`."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"process {pid} still runs {seconds} s after its digpy process was killed")
        time.sleep(0.01)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _environment(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
    return dict(p.split("=", 1) for p in pairs if "=" in p)


def _guards_holding(token: bytes) -> list[int]:
    """The guards (alive) started for the engine whose mark is `token`."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"guard.py") for part in command) and token in command and alive(int(name)):
            found.append(int(name))
    return found


def guard_of(pid: int) -> int:
    """The guard that digpy process `pid` started with its first command."""
    guards = [c for c in children(pid) if b"guard.py" in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(guards) == 1, guards
    return guards[0]


# A command that starts a grandchild (in its own process group, as every command's children are)
# and says where it is.
def sleeper(pid_file: Path) -> str:
    return f"sleep 300 & echo $! > {pid_file}.tmp; mv {pid_file}.tmp {pid_file}; wait"


def test_the_commands_of_a_killed_run_die_with_it(project):
    pid_file = project.path / "sleep.pid"
    project.write("wf.dig", f"+long:\n  sh>: {sleeper(pid_file)}\n")
    run = project.start("run", "wf", "--output", "plain")
    try:
        wait_until(pid_file.exists, what="the command to start")
        sleep = int(pid_file.read_text())
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        wait_gone(sleep)
    finally:
        run.kill()
        run.communicate(timeout=30)


def test_a_resumed_run_stops_the_old_copy_of_a_task_before_running_it_again(project):
    """Even when the guard went too (SIGKILL of everything but the command), the run that resumes
    the session kills what the killed run left before the task starts again."""
    pid_file, overlap = project.path / "sleep.pid", project.path / "overlap.txt"
    # The second time, the task says whether the first copy still runs, and ends.
    project.write("wf.dig", "+long:\n  sh>: |\n"
                            f"    if [ -e {pid_file} ]; then p=$(cat {pid_file});\n"
                            f"      if [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status; then\n"
                            f"        echo both >> {overlap}; else echo alone >> {overlap}; fi; exit 0; fi\n"
                            f"    {sleeper(pid_file)}\n")
    run = project.start("run", "wf", "--output", "plain", "--session", "2026-01-01")
    try:
        wait_until(pid_file.exists, what="the command to start")
        os.kill(guard_of(run.pid), signal.SIGKILL)
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        sleep = int(pid_file.read_text())
        assert alive(sleep), "with its guard killed too, the command survived the run"
        again = project.run("wf", "--session", "2026-01-01")
        assert again.returncode == 0, again.stderr
        assert overlap.read_text().split() == ["alone"]
        assert not alive(sleep)
    finally:
        run.kill()
        run.communicate(timeout=30)


def test_a_run_that_ends_normally_leaves_its_background_commands_alone(project):
    """As before: a command may start a daemon on purpose (`nohup ... &`); only a crash stops it,
    and running the session again (`--rerun`) leaves it too: that run ended."""
    pid_file = project.path / "daemon.pid"
    project.write("wf.dig", f"+start:\n  sh>: nohup sleep 300 > /dev/null 2>&1 & echo $! >> {pid_file}\n")
    daemons: list[int] = []
    try:
        for args in ([], ["--rerun"]):
            result = project.run("wf", "--session", "2026-01-01", *args)
            assert result.returncode == 0, result.stderr
            daemons = [int(p) for p in pid_file.read_text().split()]
        assert len(daemons) == 2
        for daemon in daemons:  # once the run's guard has gone, nothing can kill the daemon any more
            token = _environment(daemon)["DIGPY_ENGINE"].encode()
            wait_until(lambda token=token: not _guards_holding(token), what="the run's guard to go")
            assert alive(daemon)
    finally:
        for daemon in daemons:
            os.kill(daemon, signal.SIGKILL)


def _node_with_a_long_command(tmp_path: Path, database_url: str, extra: tuple[str, ...]) -> tuple[Server, int]:
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    pid_file = tmp_path / "sleep.pid"
    node = Server(tmp_path / "node", url, extra)
    node.start()
    project = write_project(tmp_path / "p", {"wf.dig": f"+long:\n  sh>: {sleeper(pid_file)}\n"})
    assert node.digpy("push", "p", "--project", str(project)).returncode == 0
    assert node.digpy("start", "p", "wf").returncode == 0
    wait_until(pid_file.exists, what="the command to start")
    return node, int(pid_file.read_text())


@pytest.mark.slow
def test_the_commands_of_a_killed_server_node_die_with_it(database_url, tmp_path):
    node, sleep = _node_with_a_long_command(tmp_path, database_url, ())
    try:
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(10)
        wait_gone(sleep)
    finally:
        node.stop()


@pytest.mark.slow
@pytest.mark.parametrize("killed", ["server", "executor"])
def test_the_commands_of_a_killed_executor_process_die_with_it(database_url, tmp_path, killed):
    node, sleep = _node_with_a_long_command(tmp_path, database_url, ("--executor-processes", "1"))
    try:
        assert node.process is not None
        executor, = [c for c in children(node.process.pid)
                     if b"--executor-only" in Path(f"/proc/{c}/cmdline").read_bytes()]
        os.kill(node.process.pid if killed == "server" else executor, signal.SIGKILL)
        wait_gone(sleep)
    finally:
        node.stop()
        if killed == "executor":
            assert node.process is not None and node.process.returncode is not None


@pytest.mark.slow
def test_a_node_that_takes_an_attempt_over_stops_the_old_copy_first(database_url, tmp_path):
    """The node and its guard are killed; a new node on the same data takes the attempt over once
    its lease has expired, and kills the old command before the task runs again."""
    pid_file, overlap = tmp_path / "sleep.pid", tmp_path / "overlap.txt"
    url = None if database_url.startswith("sqlite") else database_url
    if url is not None:
        empty_postgres(url)
    first = Server(tmp_path / "node", url)
    first.start()
    project = write_project(tmp_path / "p", {"wf.dig": (
        "+long:\n  sh>: |\n"
        f"    if [ -e {pid_file} ]; then p=$(cat {pid_file});\n"
        f"      if [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status; then\n"
        f"        echo both >> {overlap}; else echo alone >> {overlap}; fi; exit 0; fi\n"
        f"    {sleeper(pid_file)}\n")})
    assert first.digpy("push", "p", "--project", str(project)).returncode == 0
    attempt_id = json.loads(first.digpy("start", "p", "wf", "--json").stdout)["id"]
    second = Server(tmp_path / "node", url)
    try:
        wait_until(pid_file.exists, what="the command to start")
        assert first.process is not None
        os.kill(guard_of(first.process.pid), signal.SIGKILL)
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(10)
        sleep = int(pid_file.read_text())
        assert alive(sleep)
        second.start()  # the same database: it takes the attempt over when the lease expires
        wait_until(lambda: api(second, "GET", f"/api/attempts/{attempt_id}")[1]["done"], timeout=60,
                   what="the attempt to end on the second node")
        assert overlap.read_text().split() == ["alone"]
        assert not alive(sleep)
    finally:
        second.stop()
        first.stop()
