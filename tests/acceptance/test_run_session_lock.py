"""Two `digpy run` of one session: the second is refused while the first runs, and a killed run
never blocks the next one."""

from __future__ import annotations

import signal

from tests.conftest import wait_until

# The first task waits (in its own shell) until the test creates `release`.
HOLD = "while [ ! -e release ]; do sleep 0.05; done"


def test_a_second_run_of_a_running_session_is_refused_in_one_line(project):
    project.write("wf.dig", f"+wait:\n  sh>: echo wait >> ran.txt; {HOLD}\n+after:\n  sh>: echo after >> ran.txt\n")
    first = project.start("run", "wf", "--output", "plain", "--session", "2026-01-01")
    try:
        wait_until(lambda: (project.path / "ran.txt").exists(), what="the first run's command to start")
        for args in (["--session", "2026-01-01"], []):  # --session last (the default) is the same session
            second = project.run("wf", *args)
            assert second.returncode == 1, second.stderr
            assert second.stderr.splitlines() == [
                f"error: session 2026-01-01T00:00:00+00:00 of wf is running (digpy run pid {first.pid}); "
                "wait for that run to end, or stop it, and run again"]
        dry = project.run("wf", "--dry-run")
        assert dry.returncode == 0, "a dry run records nothing and takes no lock: " + dry.stderr
        other = project.run("wf", "--session", "2026-01-02", "+after")
        assert other.returncode == 0, "another session of the workflow may run: " + other.stderr
    finally:
        (project.path / "release").touch()
        _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert (project.path / "ran.txt").read_text().split() == ["wait", "after", "after"]
    assert project.run("wf", "--session", "2026-01-01").returncode == 0, "the lock went with the run"


def test_a_run_killed_with_sigkill_does_not_block_the_next_run(project):
    project.write("wf.dig", "+a:\n  sh>: echo a >> ran.txt\n"
                            f"+b:\n  sh>: echo b >> ran.txt; [ -e second ] || {{ {HOLD}; }}\n"
                            "+c:\n  sh>: echo c >> ran.txt\n")
    ran = project.path / "ran.txt"
    killed = project.start("run", "wf", "--output", "plain", "--session", "2026-01-01")
    try:
        wait_until(lambda: ran.exists() and "b" in ran.read_text().split(), what="task b to start")
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        assert list((project.path / ".digpy" / "locks").iterdir()), "the killed run left its lock file behind"
        (project.path / "second").touch()
        # The killed run's command went with it (digpy.core.engine.guard): the next run goes ahead.
        result = project.run("wf", "--session", "2026-01-01")
        assert result.returncode == 0, result.stderr
        assert ran.read_text().split() == ["a", "b", "b", "c"]
    finally:
        (project.path / "release").touch()
        killed.communicate(timeout=60)
    assert not list((project.path / ".digpy" / "locks").iterdir()), "a run removes its lock file when it ends"
