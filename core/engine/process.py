"""Run child processes without blocking the event loop; stream their output; stop them on cancel.

Lighter than asyncio's subprocess transports (measured in docs/performance.md): a child is started
with `os.posix_spawn` or `subprocess.Popen` (or forked by the warm Python worker), its exit is
watched through a pidfd in one epoll set registered with the loop, and its output pipes are read with plain `add_reader` callbacks. When the
caller's output is a plain file or pipe, the child writes to it directly (no pipes, nothing to copy).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import errno
import functools
import os
import select
import shutil
import signal
import subprocess
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from digpy.core.engine.guard import start_guard
from digpy.core.errors import TaskError

Sink = Callable[[str, str], None]  # (text, stream name "stdout"/"stderr")
# A started child: its pid, a future of its exit code, and a way to get a new such future once the
# first was canceled with the task that awaited it.
Started = tuple[int, "asyncio.Future[int]", Callable[[], "asyncio.Future[int]"]]
STOP_GRACE_SECONDS = 5.0
# The signal that stops a command before SIGKILL, and the seconds between the two: a task's
# `_stop_signal` and `_stop_grace` set them for its own asyncio task.
STOP_SIGNAL: contextvars.ContextVar[int] = contextvars.ContextVar("digpy_stop_signal", default=signal.SIGTERM)
STOP_GRACE: contextvars.ContextVar[float] = contextvars.ContextVar("digpy_stop_grace", default=STOP_GRACE_SECONDS)
DRAIN_SECONDS = 2.0
_CHUNK = 65536
_LONGEST_LINE = 1 << 20  # bytes of one unfinished line kept whole; a longer one is passed on in pieces


async def run_process(
    argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: Path | None, sink: Sink,
    passthrough: tuple[int, int] | None = None,
) -> int:
    """Run `argv` and return its exit code (128 + N: killed by signal N).

    Output goes to `sink` line by line, or straight to the file descriptors in `passthrough`
    (stdout, stderr). The child gets its own process group; if the caller is canceled, the group
    receives SIGTERM (or the task's `_stop_signal`, STOP_SIGNAL), then SIGKILL after STOP_GRACE_SECONDS (or `_stop_grace`, STOP_GRACE), before CancelledError propagates.
    """

    async def start(out: int, err: int) -> Started:
        pid = spawn(argv, env=env, cwd=cwd, stdout=out, stderr=err)
        return pid, *_watch_exit(asyncio.get_running_loop(), pid)

    return await supervise(start, sink, passthrough)


def spawn(argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: Path | None, stdout: int, stderr: int) -> int:
    """Start `argv` in its own process group with stdin from /dev/null; returns its pid.

    When digpy has a controlling terminal the child gets its own session too, so that a command
    that asks the terminal for input (`ssh`, `sudo`) fails at once instead of being stopped in the
    background; without one (the server, CI, cron) a process group is enough and cheaper: a new
    session is a new scheduler autogroup, and the engine then migrates between CPUs at each child
    (measured in docs/performance.md).

    In the engine's own directory the child comes from `os.posix_spawn` (one vfork-like clone;
    `subprocess.Popen` costs ~0.1 ms more per child in Python code, measured in
    docs/performance.md); elsewhere from `subprocess.Popen`, which can change directory.
    Both close the engine's descriptors in the child: Python opens every descriptor
    close-on-exec, and `_seal_inherited` marks the ones digpy itself was started with.
    """
    args = list(argv)
    try:
        return _spawn(args, env, cwd, stdout, stderr)
    except OSError as e:
        if e.errno == errno.E2BIG:  # Linux: 128 KiB per argument or variable, about 2 MiB in all
            raise TaskError(f"Cannot run program '{args[0]}': {e.strerror} ({_largest(args, env)})") from None
        raise TaskError(f"Cannot run program '{args[0]}': {e.strerror}") from None


def _largest(args: list[str], env: Mapping[str, str] | None) -> str:
    """What made the command line too long, for the error message."""
    sizes = [(len(v.encode()), f"variable {k}") for k, v in (env or {}).items()]
    sizes += [(len(a.encode()), "the script" if i == len(args) - 1 else f"argument {i}") for i, a in enumerate(args)]
    size, what = max(sizes)
    return (f"the largest part is {what}, {size:,} bytes; Linux takes at most 131,072 bytes for one and "
            "about 2 MB in all: pass large values through a file")


def _spawn(args: list[str], env: Mapping[str, str] | None, cwd: Path | None, stdout: int, stderr: int) -> int:
    here = _cwd()  # the first call also seals inherited descriptors and restores SIGCHLD
    own_session = _own_session()
    if cwd is None or str(cwd) == here:
        path = _which(args[0], None if env is None else env.get("PATH"))
        if path is not None:
            actions = [(os.POSIX_SPAWN_DUP2, _devnull(), 0), (os.POSIX_SPAWN_DUP2, stdout, 1),
                       (os.POSIX_SPAWN_DUP2, stderr, 2)]
            # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal stays ignored across exec:
            # give children the defaults back, as Popen's restore_signals does (`yes | head` must end).
            group: dict[str, Any] = {"setsid": True} if own_session else {"setpgroup": 0}
            return os.posix_spawn(path, args, os.environ if env is None else env, file_actions=actions,
                                  setsigdef=_RESTORED_SIGNALS, **group)
    proc = subprocess.Popen(args, stdin=_devnull(), stdout=stdout, stderr=stderr, env=env,
                            cwd=None if cwd is None else str(cwd),
                            **({"start_new_session": True} if own_session else {"process_group": 0}))
    proc.returncode = 0  # the pid is reaped by _watch_exit, not by Popen
    return proc.pid


_RESTORED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name))


@functools.cache
def _own_session() -> bool:
    """Whether children get their own session: only when digpy has a controlling terminal."""
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_CLOEXEC))
        return True
    except OSError:
        return False


@functools.cache
def _cwd() -> str:
    start_guard()
    _seal_inherited()
    _default_sigchld()
    return os.getcwd()


def _default_sigchld() -> None:
    """With SIGCHLD ignored (inherited from whoever started digpy) the kernel reaps children itself
    and their exit codes are lost: take the default back (only the main thread may)."""
    with contextlib.suppress(ValueError, OSError):
        if signal.getsignal(signal.SIGCHLD) == signal.SIG_IGN:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)


@functools.lru_cache(maxsize=256)
def _which(program: str, path: str | None) -> str | None:
    """The file `program` names, looked up in `path` as exec would; None: let Popen report it."""
    if "/" in program:
        return program
    return shutil.which(program, path=path if path is not None else os.defpath)


def _seal_inherited() -> None:
    """Make the descriptors digpy was started with (beyond 0-2) close-on-exec."""
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > 2:
                with contextlib.suppress(OSError):
                    if os.get_inheritable(fd):
                        os.set_inheritable(fd, False)


@functools.cache
def _devnull() -> int:
    """One read-only /dev/null for every child's stdin (subprocess.DEVNULL opens it per child)."""
    return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)


async def supervise(
    start: Callable[[int, int], Awaitable[Started]], sink: Sink, passthrough: tuple[int, int] | None,
) -> int:
    """Start a child with `start(stdout_fd, stderr_fd) -> Started`, stream its output and return
    its exit code; stop its process group if the caller is canceled."""
    loop = asyncio.get_running_loop()
    pipes: list[tuple[int, str]] = []
    if passthrough is not None:
        out, err = passthrough
    else:
        r_out, out = os.pipe()
        r_err, err = os.pipe()
        pipes = [(r_out, "stdout"), (r_err, "stderr")]
    try:
        pid, exited, again = await start(out, err)
    except BaseException:
        for fd, _ in pipes:
            os.close(fd)
        raise
    finally:
        if passthrough is None:
            os.close(out)
            os.close(err)
    watcher = _watchers.get(loop) if pipes else None
    readers = [_PipeReader(loop, fd, name, sink, watcher) for fd, name in pipes]
    try:
        # Not through asyncio.shield (an outer future and a loop turn more per task, ~3 % of a
        # sh> task's instructions): a cancel cancels `exited`, and `again` watches the child anew.
        code = await exited
        if readers:  # a background child may keep the pipes open after the command has exited
            pending = [r.done for r in readers if not r.done.done()]
            if pending:
                await asyncio.wait(pending, timeout=DRAIN_SECONDS)
        return code
    except BaseException:
        if exited.cancelled():
            exited = again()
        await _stop(pid, exited)
        raise
    finally:
        for reader in readers:
            reader.close()


class _PipeReader:
    """Reads a pipe from the loop (through the exit watcher's epoll set when there is one: cheaper
    than the loop's own readers) and hands complete lines to the sink."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, name: str, sink: Sink,
                 watcher: _ExitWatcher | None) -> None:
        self.loop, self.fd, self.name, self.sink, self.watcher = loop, fd, name, sink, watcher
        self.pending = b""
        self.done: asyncio.Future[None] = loop.create_future()
        os.set_blocking(fd, False)
        if watcher is not None:
            watcher.watch_fd(fd, self._readable)
        else:
            loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            chunk = os.read(self.fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            if self.pending:
                self.sink(self.pending.decode("utf-8", "replace") + "\n", self.name)
                self.pending = b""
            self.close()
            return
        data = self.pending + chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            self.sink(data[:cut].decode("utf-8", "replace"), self.name)
            self.pending = data[cut:]
        else:
            self.pending = data
        if len(self.pending) >= _LONGEST_LINE:  # a line this long goes on in pieces
            self.sink(self.pending.decode("utf-8", "replace"), self.name)
            self.pending = b""

    def close(self) -> None:
        if self.fd >= 0:
            if self.watcher is not None:
                self.watcher.unwatch_fd(self.fd)
            else:
                self.loop.remove_reader(self.fd)
            os.close(self.fd)
            self.fd = -1
        if not self.done.done():
            self.done.set_result(None)


def _watch_exit(loop: asyncio.AbstractEventLoop, pid: int
                ) -> tuple[asyncio.Future[int], Callable[[], asyncio.Future[int]]]:
    """A future that gets the exit code of child `pid` (128 + N: killed by signal N), and a
    function that returns a new one (for when the first was canceled)."""
    watcher = _watchers.get(loop)
    if watcher is None:
        try:
            watcher = _watchers[loop] = _ExitWatcher(loop)
        except (AttributeError, OSError):  # no pidfds (an old kernel): a thread waits for each child
            watcher = None
    if watcher is not None:
        try:
            return watcher.watch(pid), functools.partial(watcher.again, pid)
        except OSError:  # pidfd_open refused (seccomp, out of descriptors): still never lose the child
            pass
    # A second waiting thread finds the child reaped by the first (ECHILD): it is gone either way.
    return _wait_in_thread(loop, pid), functools.partial(_wait_in_thread, loop, pid)


def _wait_in_thread(loop: asyncio.AbstractEventLoop, pid: int) -> asyncio.Future[int]:
    return asyncio.ensure_future(asyncio.to_thread(_reap, pid), loop=loop)


def _reap(pid: int) -> int:
    try:
        return exit_code(os.waitpid(pid, 0)[1])
    except ChildProcessError:  # SIGCHLD ignored by whoever started digpy: the kernel reaped it (as Popen: 0)
        return 0


def exit_code(status: int) -> int:
    """A wait status as a shell (and Digdag, through Java) reports it: killed by signal N is 128 + N."""
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


class _ExitWatcher:
    """Watches children's pidfds (and their output pipes) in one epoll set, registered with the
    event loop once.

    Cheaper per child than asyncio's add_reader/remove_reader (measured in docs/performance.md).
    The watcher refers to its loop weakly, so that a closed loop and its watcher can go.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        os.pidfd_open  # noqa: B018 - AttributeError here: this platform has no pidfds
        self.loop = weakref.ref(loop)
        self.epoll = select.epoll()
        self.children: dict[int, tuple[int, asyncio.Future[int]]] = {}  # pidfd -> (pid, future)
        self.pidfds: dict[int, int] = {}  # pid -> pidfd
        self.readers: dict[int, Callable[[], None]] = {}  # pipe fd -> what reads it
        loop.add_reader(self.epoll.fileno(), self._ready)

    def watch_fd(self, fd: int, readable: Callable[[], None]) -> None:
        self.epoll.register(fd, select.EPOLLIN)
        self.readers[fd] = readable

    def unwatch_fd(self, fd: int) -> None:
        if self.readers.pop(fd, None) is not None:
            self.epoll.unregister(fd)

    def watch(self, pid: int) -> asyncio.Future[int]:
        loop = self.loop()
        assert loop is not None
        pidfd = os.pidfd_open(pid)
        future: asyncio.Future[int] = loop.create_future()
        self.epoll.register(pidfd, select.EPOLLIN)
        self.children[pidfd] = (pid, future)
        self.pidfds[pid] = pidfd
        return future

    def again(self, pid: int) -> asyncio.Future[int]:
        """A new future of the exit of child `pid`, whose first future was canceled."""
        loop = self.loop()
        assert loop is not None
        future: asyncio.Future[int] = loop.create_future()
        pidfd = self.pidfds.get(pid)
        if pidfd is None:  # it has exited and been reaped already
            future.set_result(-1)
        else:
            self.children[pidfd] = (pid, future)
        return future

    def _ready(self) -> None:
        for pidfd, _ in self.epoll.poll(0):
            readable = self.readers.get(pidfd)
            if readable is not None:
                readable()
                continue
            if pidfd not in self.children:  # a pipe closed by a callback earlier in this batch
                continue
            pid, future = self.children.pop(pidfd)
            del self.pidfds[pid]
            self.epoll.unregister(pidfd)
            os.close(pidfd)
            code = _reap(pid)
            if not future.done():
                future.set_result(code)


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _ExitWatcher] = weakref.WeakKeyDictionary()


async def _stop(pid: int, exited: asyncio.Future[int]) -> None:
    for sig, wait in ((STOP_SIGNAL.get(), STOP_GRACE.get()), (signal.SIGKILL, None)):
        if exited.done():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        try:
            await asyncio.wait_for(asyncio.shield(exited), wait)
            return
        except (TimeoutError, asyncio.CancelledError):
            continue


@functools.cache
def _base_env() -> dict[str, str]:
    """The engine's environment, decoded once (os.environ decodes on every read), with the mark
    that lets the guard stop its commands if the engine dies (digpy.core.engine.guard)."""
    start_guard()
    return dict(os.environ)


class LocalProcessExecutor:
    """The default CommandExecutor: a process on this machine, with the engine's environment.

    Its output goes to the sink line by line, or straight to the descriptors in the sink's
    `passthrough` attribute when the runner allows it (nothing to mask, no other command at once)."""

    local = True  # digpy's own interpreter runs Python scripts here

    def __init__(self, base_env: Mapping[str, str] | None = None, passthrough: tuple[int, int] | None = None) -> None:
        self.base_env = base_env  # None: the engine's own environment
        self.passthrough = passthrough  # used when the sink says nothing

    def _env(self, env: Mapping[str, str]) -> dict[str, str]:
        full = dict(_base_env() if self.base_env is None else self.base_env)
        full.update(env)
        return full

    def _passthrough(self, sink: Sink) -> tuple[int, int] | None:
        found: tuple[int, int] | None = getattr(sink, "passthrough", self.passthrough)
        return found

    async def run(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, project_dir: Path,
                  sink: Sink) -> int:
        return await run_process(argv, env=self._env(env), cwd=cwd, sink=sink, passthrough=self._passthrough(sink))

    async def run_python(self, script: Path, args: Sequence[str], *, env: Mapping[str, str], cwd: Path,
                         sink: Sink) -> int:
        """Run a Python script with digpy's own interpreter, forked from the warm worker."""
        from digpy.core.engine.pyworker import worker

        full_env = self._env(env)

        async def start(out: int, err: int) -> Started:
            python = worker()
            pid, exited = await python.spawn(script, args, env=full_env, cwd=cwd, stdout=out, stderr=err)
            return pid, exited, functools.partial(python.exit_again, pid)

        return await supervise(start, sink, self._passthrough(sink))


LOCAL = LocalProcessExecutor()

