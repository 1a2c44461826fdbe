"""Commands do not outlive the digpy process that started them.

Each command runs in a process group of its own (digpy.core.engine.process), so a digpy process
killed with SIGKILL used to leave its commands running, and a resumed run started the same task
again beside the old copy. Two marks in every command's environment, inherited by everything the
command starts, say whose it is:

- `DIGPY_ENGINE=<token>`: the digpy process (engine) that started it. With its first command an
  engine starts a guard, a small process (this file, run by path with the standard library only)
  in a session of its own that reads a pipe only the engine holds. When the engine exits it says
  so first; when the pipe ends without that (the engine was killed), the guard kills every process
  that carries the engine's mark, and their process groups, until none is left.
- `DIGPY_ATTEMPT_TAG=<session uuid>/<attempt id>`: the attempt a command belongs to. Before a
  session is resumed (`digpy run`; its attempts that never ended) or an attempt is taken over by a
  server node, every process of this machine that carries its mark is killed and gone, so a task
  never runs twice at once here.

Why marks and not pids: a command's children may leave its process group (`setsid`, daemons) and
pids are reused; the environment travels with every descendant and costs no write per command.
Only processes of digpy's own user can be read (/proc/PID/environ); a command that clears its
environment (`env -i`) loses its marks. Linux only (elsewhere nothing is guarded).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time

ENGINE_ENV = "DIGPY_ENGINE"
ATTEMPT_ENV = "DIGPY_ATTEMPT_TAG"
STOP_SECONDS = 10.0  # how long stopping keeps looking for processes that fork while being killed
_BYE = b"bye\n"
_guard_pipe: int | None = None


def attempt_tag(session_uuid: str, attempt_id: int) -> str:
    return f"{session_uuid}/{attempt_id}"


def start_guard() -> None:
    """Mark this process's commands as its own and start their guard (once; not on other systems)."""
    global _guard_pipe
    if _guard_pipe is not None or not os.path.isdir("/proc/self"):
        return
    token = f"{os.getpid()}-{time.time_ns()}"
    env = {k: v for k, v in os.environ.items() if k != ENGINE_ENV}  # the guard is nobody's command
    r, w = os.pipe()  # close-on-exec: no command holds the engine's end
    try:
        subprocess.Popen([sys.executable, "-I", "-S", os.path.abspath(__file__), token], stdin=r,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                         start_new_session=True)  # holding none of the caller's pipes: a reader of
        # digpy's output must see its end when digpy ends, not when the guard has started and gone
    except OSError:
        os.close(w)
        return
    finally:
        os.close(r)
    _guard_pipe = w
    os.environ[ENGINE_ENV] = token
    atexit.register(release_guard)


def release_guard() -> None:
    """This process ends normally: its guard goes without killing (background commands stay, as
    they always did)."""
    global _guard_pipe
    if _guard_pipe is not None:
        with contextlib.suppress(OSError):
            os.write(_guard_pipe, _BYE)
            os.close(_guard_pipe)
        _guard_pipe = None


def stop_marked(name: str, *values: str, prefix: bool = False, timeout: float = STOP_SECONDS) -> int:
    """Kill every process of this machine whose environment has `name=value` for one of `values`
    (with `prefix`: a value that starts with one), and their process groups, until none is left or
    `timeout` passed. Returns how many were killed."""
    needles = [f"\0{name}={value}".encode() + (b"" if prefix else b"\0") for value in values]
    killed = 0
    deadline = time.monotonic() + timeout
    while True:
        found = _marked(needles)
        if not found:
            return killed
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                if os.getpgid(pid) == pid:  # a command's own group (never somebody else's)
                    os.killpg(pid, signal.SIGKILL)
        killed += len(found)
        if time.monotonic() > deadline:
            return killed
        time.sleep(0.01)


def _marked(needles: list[bytes]) -> list[int]:
    """The live processes whose environment holds one of `needles` (a zombie's reads as empty)."""
    me = os.getpid()
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    for name in names:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                data = b"\0" + f.read()
        except OSError:  # gone, or another user's
            continue
        if any(needle in data for needle in needles):
            found.append(int(name))
    return found


def _guard(token: str) -> None:
    """Wait for the engine's pipe to end; if the engine did not say goodbye, kill its commands."""
    with contextlib.suppress(OSError):
        os.chdir("/")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data = b""
    while True:
        try:
            chunk = os.read(0, 64)
        except InterruptedError:
            continue
        except OSError:
            chunk = b""
        if not chunk:
            break
        data += chunk
        if _BYE in data:
            return
    stop_marked(ENGINE_ENV, token)


if __name__ == "__main__":
    _guard(sys.argv[1])
