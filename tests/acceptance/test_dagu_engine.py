"""Dagu DAG-level pacing and deadlines, through the real `digpy` command: `maxActiveSteps` is a
sliding window, `delaySec` spaces the starts of the steps, `timeoutSec` kills the running steps.
The same engine features in a `.dig` file: `_parallel: {running: N}`, `_start_interval`, `_timeout`."""

from __future__ import annotations

import itertools
import sqlite3
import time

from tests.conftest import LongSleep


def stored_tasks(project) -> dict[str, dict]:
    """The tasks of the newest attempt, as `digpy run` stored them: name → state, started_at, ended (updated_at)."""
    with sqlite3.connect(project.path / ".digpy" / "state.db") as db:
        attempt = db.execute("SELECT max(attempt_id) FROM tasks").fetchone()[0]
        rows = db.execute("SELECT full_name, state, started_at, updated_at FROM tasks WHERE attempt_id = ?",
                          (attempt,)).fetchall()
    states = ["blocked", "ready", "retry_waiting", "group_retry_waiting", "running", "planned", "group_error",
              "success", "error", "canceled"]
    return {name: {"state": states[state], "started": started, "ended": updated}
            for name, state, started, updated in rows}


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The most intervals that overlap (one that ends when another starts does not overlap it)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


def test_max_active_steps_starts_the_next_step_as_soon_as_one_ends(project):
    # `long` holds one of the two slots until `s4` has run: with batches of two (the engine's
    # `_parallel: {limit: 2}`), s2..s4 would wait for `long`, which gives up after 20 s and fails.
    project.write("window.yaml", """\
type: graph
maxActiveSteps: 2
steps:
  - name: long
    command: for i in $(seq 200); do [ -f s4.done ] && exit 0; sleep 0.1; done; exit 1
  - name: s1
    command: echo s1
  - name: s2
    command: echo s2
  - name: s3
    command: echo s3
  - name: s4
    command: touch s4.done
  - name: join
    depends: [long, s1, s2, s3, s4]
    command: echo joined
""")
    result = project.run("window.yaml", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "joined"
    tasks = stored_tasks(project)
    steps = [tasks[f"+window+{name}"] for name in ("long", "s1", "s2", "s3", "s4", "join")]
    assert all(t["state"] == "success" for t in steps)
    assert most_at_once([(t["started"], t["ended"]) for t in steps]) == 2


def test_the_same_sliding_window_in_a_dig_file(project):
    project.write("w.dig", """\
_parallel: {running: 2}
+long:
  sh>: for i in $(seq 200); do [ -f c.done ] && exit 0; sleep 0.1; done; exit 1
+a:
  echo>: a
+b:
  echo>: b
+c:
  sh>: touch c.done
""")
    result = project.run("w", timeout=60)
    assert result.returncode == 0, result.stderr
    tasks = stored_tasks(project)
    steps = [tasks[f"+w+{name}"] for name in ("long", "a", "b", "c")]
    assert most_at_once([(t["started"], t["ended"]) for t in steps]) == 2


def test_delay_sec_spaces_the_starts_of_independent_steps_and_of_a_chain(project):
    project.write("spaced.yaml", """\
type: graph
delaySec: 1
steps:
  - name: a
    command: echo a
  - name: b
    command: echo b
  - name: c
    command: echo c
  - name: d
    depends: [c]
    command: echo d
""")
    result = project.run("spaced.yaml", timeout=60)
    assert result.returncode == 0, result.stderr
    tasks = stored_tasks(project)
    starts = sorted(tasks[f"+spaced+{name}"]["started"] for name in "abcd")
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert all(gap >= 0.99 for gap in gaps), gaps  # a loaded machine starts them later, never sooner


def test_start_interval_in_a_dig_file_spaces_a_groups_children(project):
    project.write("s.dig", """\
+g:
  _parallel: true
  _start_interval: 0.5
  +a:
    echo>: a
  +b:
    echo>: b
  +c:
    echo>: c
+after:
  echo>: after
""")
    result = project.run("s", timeout=60)
    assert result.returncode == 0, result.stderr
    tasks = stored_tasks(project)
    starts = sorted(tasks[f"+s+g+{name}"]["started"] for name in "abc")
    assert starts[1] - starts[0] >= 0.49 and starts[2] - starts[1] >= 0.49, starts


def test_timeout_sec_kills_the_running_steps_and_fails_the_run(project):
    sleep = LongSleep(60)
    project.write("deadline.yaml", f"""\
timeoutSec: 2
handlerOn:
  failure:
    command: echo "failure handler ran"
steps:
  - name: stuck
    command: {sleep.command}
  - name: never
    command: echo never
""")
    began = time.monotonic()
    result = project.run("deadline.yaml", timeout=60)
    took = time.monotonic() - began
    assert result.returncode != 0
    assert took < 30, f"the run took {took:.1f} s: the step was not killed at the deadline"
    assert not sleep.running(), "the step's command still runs"
    assert "timed out after 2 seconds" in result.stderr
    assert "never" not in result.stdout.splitlines()
    assert "failure handler ran" in result.stdout.splitlines()
    tasks = stored_tasks(project)
    assert tasks["+deadline"]["state"] == "error"
    assert tasks["+deadline+stuck"]["state"] == "canceled"


def test_a_groups_timeout_in_a_dig_file_kills_its_tasks_and_runs_its_error_task(project):
    sleep = LongSleep(60)
    project.write("t.dig", f"""\
+g:
  _timeout: 1
  _error:
    echo>: "group failed: ${{error.message}}"
  +slow:
    sh>: {sleep.command}
  +next:
    echo>: never
+after:
  echo>: never after
""")
    result = project.run("t", timeout=60)
    assert result.returncode != 0
    assert not sleep.running()
    assert "group failed: timed out after 1 seconds (_timeout)" in result.stdout.splitlines()
    assert "never" not in result.stdout and "never after" not in result.stdout
    tasks = stored_tasks(project)
    assert tasks["+t+g"]["state"] == "error" and tasks["+t+g+slow"]["state"] == "canceled"
