"""A warm Python worker: one pre-started interpreter that forks a child per Python task.

Starting an interpreter costs ~30 ms (more with site-packages); forking a warm one costs ~1 ms.
The worker (`python -m digpy.core.engine.pyworker`) only imports the standard library; each child runs
the given script with `runpy`, in its own session, with its own working directory, environment
and output, so tasks do not share state. The engine talks to it over a SOCK_SEQPACKET socket:
a request (JSON) carries the script, arguments, directory and environment, plus the child's
stdout and stderr as file descriptors; the worker answers with the child's pid, then its exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

_MAX_MESSAGE = 1 << 20


class PythonWorker:
    """The engine's side: start the worker once, then `await spawn(...)` children from it."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None
        self._next = 0
        self._pids: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._early: dict[int, int] = {}
        self._abandoned: set[int] = set()  # children whose task was canceled before their pid came
        self._loop: asyncio.AbstractEventLoop | None = None

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from digpy.core.engine.pyworker import serve; serve(int(sys.argv[1]))",
             str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, start_new_session=True,
        )
        theirs.close()
        ours.setblocking(False)
        self.sock, self._loop = ours, loop
        loop.add_reader(ours.fileno(), self._receive)

    def _receive(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(_MAX_MESSAGE)
        except BlockingIOError:
            return
        if not data:
            self._broken("the Python worker stopped")
            return
        message = json.loads(data)
        if "request" in message:
            future = self._pids.pop(message["request"], None)
            if future is not None and future.cancelled() and "pid" in message:
                # Nobody waits for this child any more: stop it (it has a session of its own) and
                # drop its exit, which would otherwise wait in _early for a pid that may be reused.
                self._abandoned.add(message["pid"])
                for kill in (os.killpg, os.kill):  # its group, or itself if it has no group of its own yet
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        kill(message["pid"], signal.SIGKILL)
            elif future is not None and not future.done():
                if "error" in message:
                    future.set_exception(OSError(message["error"]))
                else:
                    future.set_result(message["pid"])
        else:
            pid, code = message["pid"], message["exit"]
            exit_future = self._exits.pop(pid, None)
            if pid in self._abandoned:
                self._abandoned.discard(pid)
            elif exit_future is None:
                self._early[pid] = code
            elif not exit_future.done():
                exit_future.set_result(code)

    def _broken(self, reason: str) -> None:
        if self._loop is not None and self.sock is not None:
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
        self.sock = None
        for future in [*self._pids.values(), *self._exits.values()]:
            if not future.done():
                future.set_exception(OSError(reason))
        self._pids.clear()
        self._exits.clear()

    async def spawn(self, script: Path, args: Sequence[str], *, env: Mapping[str, str], cwd: Path,
                    stdout: int, stderr: int) -> tuple[int, asyncio.Future[int]]:
        """Fork a child that runs `script args`; returns its pid and a future of its exit code."""
        loop = asyncio.get_running_loop()
        if self.sock is None or self._loop is not loop:
            self._start(loop)
        assert self.sock is not None
        self._next += 1
        request = self._next
        pid_future: asyncio.Future[int] = loop.create_future()
        self._pids[request] = pid_future
        payload = json.dumps({"request": request, "script": str(script), "args": list(args), "cwd": str(cwd),
                              "env": dict(env)}).encode()
        socket.send_fds(self.sock, [payload], [stdout, stderr])
        pid = await pid_future
        exit_future: asyncio.Future[int] = loop.create_future()
        if pid in self._early:
            exit_future.set_result(self._early.pop(pid))
        else:
            self._exits[pid] = exit_future
        return pid, exit_future

    def exit_again(self, pid: int) -> asyncio.Future[int]:
        """A new future of the exit of child `pid`, whose first future was canceled."""
        assert self._loop is not None
        future: asyncio.Future[int] = self._loop.create_future()
        if pid in self._exits:
            self._exits[pid] = future
        else:  # it has exited already
            future.set_result(self._early.pop(pid, -1))
        return future

    def close(self) -> None:
        if self.sock is not None:
            self._broken("closed")
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)


_workers: dict[int, PythonWorker] = {}


def worker() -> PythonWorker:
    """This process's worker (one per event loop thread's process)."""
    found = _workers.get(os.getpid())
    if found is None:
        found = _workers[os.getpid()] = PythonWorker()
    return found


# --------------------------------------------------------------------------- the worker process


def serve(fd: int) -> None:
    """The worker's loop: fork a child per request, report pids and exit codes."""
    # Imported once here so that every child starts with them loaded (what py> tasks need).
    import importlib  # noqa: F401
    import inspect  # noqa: F401
    import runpy  # noqa: F401
    import selectors
    import traceback  # noqa: F401
    import types  # noqa: F401
    import typing  # noqa: F401

    sock = socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    selector.register(wake_r, selectors.EVENT_READ)
    try:
        _serve(sock, selector, wake_r)
    except (BrokenPipeError, ConnectionError):  # the engine went away (killed): nobody to report to
        return


def _serve(sock: socket.socket, selector: Any, wake_r: int) -> None:
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                try:
                    data, fds, _flags, _addr = socket.recv_fds(sock, _MAX_MESSAGE, 2)
                except OSError:
                    return
                if not data:
                    return  # the engine went away
                request = json.loads(data)
                try:
                    pid = os.fork()
                except OSError as e:
                    for f in fds:
                        os.close(f)
                    sock.send(json.dumps({"request": request["request"], "error": str(e)}).encode())
                    continue
                if pid == 0:
                    selector.close()
                    sock.close()
                    _child(request, fds)
                for f in fds:
                    os.close(f)
                sock.send(json.dumps({"request": request["request"], "pid": pid}).encode())
            else:
                os.read(wake_r, 4096)
            _reap(sock)


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)  # as digpy.core.engine.process.exit_code: signal N is 128 + N
        sock.send(json.dumps({"pid": pid, "exit": 128 - code if code < 0 else code}).encode())


def _child(request: dict[str, Any], fds: list[int]) -> None:
    """In the forked child: become the task's process, run the script, exit with its code."""
    import runpy
    import traceback

    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        for f in fds:
            os.close(f)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        script = request["script"]
        sys.argv = [script, *request["args"]]
        sys.path[0:0] = [os.path.dirname(script)]
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

