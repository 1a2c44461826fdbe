"""One `digpy run` at a time per session: an exclusive lock file per session in `.digpy/locks/`.

The lock is flock(2) on an open file, so the kernel releases it when its process ends, also when
the process is killed: a lock left by a dead run never blocks the next one. The file descriptor is
not inherited by commands (Python opens files non-inheritable), so a command that outlives a killed
run does not hold the lock either. The file holds the owner's pid for the message a second run
shows, and is removed when the lock is released.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path


class SessionBusy(Exception):
    """Another process holds the lock; `pid` is its process id when it could be read."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(pid)
        self.pid = pid


class SessionLock:
    """An exclusive lock on a file, held until `release()` or the end of the process."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, path: Path) -> SessionLock:
        """Lock `path` (created if needed) without waiting; raises SessionBusy if it is held."""
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = _read_pid(fd)
                os.close(fd)
                raise SessionBusy(pid) from None
            except BaseException:
                os.close(fd)
                raise
            # The owner before us may have removed the file between our open and our lock: then the
            # lock is on a file nobody else will find. Lock the file that is at the path now.
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return cls(path, fd)
            os.close(fd)

    def release(self) -> None:
        """Remove the file, then unlock it (whoever waited on the old file tries again)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


__all__ = ["SessionBusy", "SessionLock"]
