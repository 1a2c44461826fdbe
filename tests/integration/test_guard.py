"""digpy.core.engine.guard: stopping the processes that carry a mark, and only those."""

from __future__ import annotations

import os
import subprocess

from digpy.core.engine.guard import ATTEMPT_ENV, attempt_tag, stop_marked
from tests.acceptance.test_crash_strays import alive


def _start(mark: str | None, *, group: bool) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop(ATTEMPT_ENV, None)
    if mark is not None:
        env[ATTEMPT_ENV] = mark
    # Marked: a shell whose grandchild stays in its group (and carries the mark); its pid is returned.
    argv = ["sh", "-c", "sleep 60 & wait"] if mark is not None else ["sleep", "60"]
    return subprocess.Popen(argv, env=env, process_group=0 if group else None)


def test_stop_marked_kills_the_marked_processes_their_children_and_nothing_else():
    session = "0f3c-uuid"
    ours = _start(attempt_tag(session, 7), group=True)
    other_attempt = _start(attempt_tag(session, 70), group=True)
    unmarked = _start(None, group=False)
    try:
        assert stop_marked(ATTEMPT_ENV, attempt_tag(session, 7)) >= 1
        ours.wait(5)
        assert other_attempt.poll() is None and unmarked.poll() is None, "7 is not 70, nor no mark"
        assert stop_marked(ATTEMPT_ENV, f"{session}/", prefix=True) >= 1  # every attempt of the session
        other_attempt.wait(5)
        assert unmarked.poll() is None
        assert stop_marked(ATTEMPT_ENV, f"{session}/", prefix=True) == 0, "nothing is left to stop"
    finally:
        for proc in (ours, other_attempt, unmarked):
            proc.kill()
            proc.wait()


def test_a_marked_process_that_leads_no_group_is_killed_without_its_group():
    """The test runner shares its group with such a process: killing the group would kill it too."""
    leader = _start("lone/1", group=False)
    try:
        stop_marked(ATTEMPT_ENV, "lone/1")
        leader.wait(5)
        assert alive(os.getpid())
    finally:
        leader.kill()
        leader.wait()


def test_the_guard_holds_none_of_the_callers_pipes(tmp_path):
    """`digpy run ... | tee` (or CI reading digpy's output) ends when digpy ends: the guard it starts
    must not keep the caller's stdout or stderr open until it has started and gone."""
    import sys

    from tests.conftest import wait_until

    (tmp_path / "wf.dig").write_text('+t:\n  sh>: "while [ ! -f go ]; do sleep 0.02; done"\n')
    proc = subprocess.Popen([sys.executable, "-m", "digpy", "run", "wf", "--output", "plain"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        pipes = {os.fstat(proc.stdout.fileno()).st_ino, os.fstat(proc.stderr.fileno()).st_ino}  # type: ignore[union-attr]
        found: list[int] = []

        def guard_started() -> bool:  # the guard starts with the first command; its argument names digpy's pid
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        words = f.read().split(b"\0")
                except OSError:
                    continue
                if any(w.endswith(b"guard.py") for w in words) and any(w.startswith(f"{proc.pid}-".encode()) for w in words):
                    found.append(int(pid))
            return bool(found)

        wait_until(guard_started, what="the guard to start")
        held = set()
        for fd in ("0", "1", "2"):
            target = os.readlink(f"/proc/{found[0]}/fd/{fd}")
            if target.startswith("pipe:["):
                held.add(int(target[6:-1]))
        assert held, "the guard reads a pipe of its own on stdin"
        assert not held & pipes, "the guard holds digpy's stdout or stderr"
    finally:
        (tmp_path / "go").touch()
        proc.communicate(timeout=60)
    assert proc.returncode == 0
