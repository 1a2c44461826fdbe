"""Run a child process without blocking the event loop; stream its output; stop it on cancel."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

Sink = Callable[[str, str], None]  # (text, stream name "stdout"/"stderr")
STOP_GRACE_SECONDS = 5.0
DRAIN_SECONDS = 2.0
_CHUNK = 65536


def use_pidfd_child_watcher() -> None:
    """On Python 3.11, wait for children with pidfds instead of one thread per child (3.12+ does)."""
    if sys.version_info >= (3, 12) or not hasattr(os, "pidfd_open"):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            os.close(os.pidfd_open(os.getpid()))
        except OSError:
            return
        asyncio.set_child_watcher(asyncio.PidfdChildWatcher())


async def run_process(
    argv: Sequence[str], *, env: Mapping[str, str] | None, cwd: Path | None, sink: Sink,
    stdin: bytes | None = None,
) -> int:
    """Run `argv`, send its stdout and stderr to `sink` line by line, and return its exit code.

    The child gets its own process group; if the caller is canceled, the whole group receives
    SIGTERM, then SIGKILL after STOP_GRACE_SECONDS, before CancelledError propagates.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=str(cwd) if cwd is not None else None,
        start_new_session=True,
    )
    try:
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await proc.stdin.drain()
            proc.stdin.close()
        assert proc.stdout is not None and proc.stderr is not None
        pumps = asyncio.ensure_future(
            asyncio.gather(_pump(proc.stdout, "stdout", sink), _pump(proc.stderr, "stderr", sink))
        )
        code = await proc.wait()
        # A background child may keep the pipes open after the command itself has exited.
        done, _ = await asyncio.wait({pumps}, timeout=DRAIN_SECONDS)
        if not done:
            pumps.cancel()
        return code
    except BaseException:
        await _stop(proc)
        raise


async def _pump(stream: asyncio.StreamReader, name: str, sink: Sink) -> None:
    pending = b""
    while True:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            break
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            sink(data[:cut].decode("utf-8", "replace"), name)
            pending = data[cut:]
        else:
            pending = data
            if len(pending) >= _CHUNK:  # a very long line: pass it on in pieces
                sink(pending.decode("utf-8", "replace"), name)
                pending = b""
    if pending:
        sink(pending.decode("utf-8", "replace") + "\n", name)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.shield(asyncio.wait_for(proc.wait(), wait))
            return
        except (TimeoutError, asyncio.CancelledError):
            continue
