"""Child processes: exit codes, and what happens when the kernel's pidfds are not available."""

from __future__ import annotations

import asyncio
import errno
import gc
import os

from digpy.core import process


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
