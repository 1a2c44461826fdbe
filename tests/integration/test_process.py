"""Child processes: exit codes, and what happens when the kernel's pidfds are not available."""

from __future__ import annotations

import asyncio
import errno
import gc
import os

from digpy.core.engine import process


def _run(argv: list[str]) -> int:
    return asyncio.run(process.run_process(argv, env=None, cwd=None, sink=lambda text, stream: None))


def test_exit_codes_and_signals():
    assert _run(["sh", "-c", "exit 3"]) == 3
    assert _run(["sh", "-c", "kill -9 $$"]) == 137


def test_a_refused_pidfd_falls_back_to_a_waiting_thread(monkeypatch):
    def refuse(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "pidfd_open", refuse)
    assert _run(["sh", "-c", "exit 5"]) == 5


def test_closed_loops_leave_no_watcher_behind():
    for _ in range(3):
        assert _run(["true"]) == 0
    gc.collect()
    assert len(process._watchers) == 0


async def _cancel_while_running(tmp_path) -> int:
    """Start a command that ignores nothing, cancel the task waiting for it; returns its pid."""
    pid_file = tmp_path / "pid"
    script = f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file} && exec sleep 30"
    task = asyncio.ensure_future(process.run_process(["sh", "-c", script], env=None, cwd=None,
                                                     sink=lambda text, stream: None))
    while not pid_file.exists():  # the child announces itself; nothing else to wait on
        await asyncio.sleep(0.01)
    pid = int(pid_file.read_text())
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    else:
        raise AssertionError("the canceled run returned instead of raising CancelledError")
    return pid


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_canceled_run_stops_the_command_and_reaps_it(tmp_path):
    pid = asyncio.run(_cancel_while_running(tmp_path))
    assert _gone(pid)  # killed and reaped (a zombie would still answer kill 0)


def test_a_canceled_run_stops_the_command_without_pidfds(tmp_path, monkeypatch):
    def refuse(pid: int, flags: int = 0) -> int:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(os, "pidfd_open", refuse)
    pid = asyncio.run(_cancel_while_running(tmp_path))
    assert _gone(pid)


def test_a_py_task_canceled_before_its_child_started_leaves_no_child(tmp_path):
    import subprocess

    from digpy.core.engine.pyworker import worker

    script = tmp_path / "sleeper.py"
    script.write_text("import time\ntime.sleep(30)\n")
    (tmp_path / "warm.py").write_text("pass\n")

    def running() -> bool:  # the worker forks its children: they are the worker's child processes
        assert worker().process is not None
        return subprocess.run(["pgrep", "-P", str(worker().process.pid)], capture_output=True).stdout != b""

    async def scenario() -> None:
        executor = process.LocalProcessExecutor(dict(os.environ), None)
        sink = lambda text, stream: None  # noqa: E731
        assert await executor.run_python(tmp_path / "warm.py", [], env={}, cwd=tmp_path, sink=sink) == 0
        task = asyncio.ensure_future(executor.run_python(script, [], env={}, cwd=tmp_path, sink=sink))
        await asyncio.sleep(0)  # the request is on its way to the worker; its pid has not come back
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        for _ in range(500):  # the worker's answer arrives, and with it the child's end
            if not worker()._pids and not running():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the child of a canceled py> task is still running")

    asyncio.run(scenario())


def test_a_command_line_over_the_kernels_limit_is_a_one_line_task_error():
    from digpy.core.errors import TaskError

    env = {"PATH": os.environ["PATH"], "BIG": "x" * 200_000}
    try:
        asyncio.run(process.run_process(["sh", "-c", "true"], env=env, cwd=None, sink=lambda text, stream: None))
    except TaskError as e:
        assert str(e).startswith("Cannot run program 'sh': Argument list too long (the largest part is variable BIG, "
                                 "200,000 bytes"), str(e)
    else:
        raise AssertionError("a 200,000-byte variable went through execve")
