"""SLAs as a user meets them: `digpy run` of workflows with `sla:` and `_sla`, and the
`digpy_notify_sla` hook. The late task in each workflow waits for the file its SLA task writes, so
a test takes as long as the SLA and never sleeps."""

from __future__ import annotations

from digpy.core.engine.local import LocalRunOptions, run_local
from digpy.core.plugin_manager import load_registry
from digpy.core.spi import hookimpl
from digpy.core.testing import _Collect

WAIT_FOR_LATE = "for i in $(seq 600); do [ -f late ] && exit 0; sleep 0.05; done; exit 1"


def test_a_workflow_over_its_sla_runs_the_sla_tasks_and_succeeds(project):
    project.write("wf.dig", f"""sla:
  duration: 00:00:01
  +notice:
    sh>: echo "late on $session_date" && touch late
+slow:
  sh>: '{WAIT_FOR_LATE}'
+after:
  echo>: after
""")
    result = project.run("wf", "--session", "2026-04-01")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["late on 2026-04-01", "after"]
    assert "[WARNING] SLA missed: +wf did not finish within 00:00:01\n" in result.stderr
    assert "+wf^sla+notice: sh>:" in result.stderr


def test_fail_true_fails_the_run_after_its_running_tasks_end(project):
    project.write("wf.dig", f"""sla:
  duration: 1s
  fail: true
  +notice:
    sh>: touch late
+slow:
  sh>: '{WAIT_FOR_LATE}'
+after:
  echo>: still runs
""")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "still runs\n"
    assert "SLA missed: +wf did not finish within 1s (the attempt will fail)" in result.stderr
    assert "  * +wf^sla:\n    SLA missed: +wf did not finish within 1s\n" in result.stderr


def test_a_task_over_its_sla_sets_off_its_own_sla_tasks(project):
    project.write("wf.dig", f"""+quick:
  echo>: quick
  _sla: 1h
+slow:
  _sla:
    duration: 1s
    +told:
      sh>: echo "${{task_name}}" && touch late
  sh>: '{WAIT_FOR_LATE}'
""")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "quick\n+wf+slow^sla+told\n"
    assert result.stderr.count("SLA missed") == 1
    assert "SLA missed: +wf+slow did not finish within 1s" in result.stderr


def test_an_attempt_in_time_misses_nothing(project):
    project.write("wf.dig", "sla:\n  duration: 01:00:00\n  +notice:\n    echo>: late\n+a:\n  echo>: in time\n")
    result = project.run("wf")
    assert (result.returncode, result.stdout) == (0, "in time\n")
    assert "SLA" not in result.stderr


def test_the_sla_hook_is_told_of_each_alert_and_not_of_alert_false(tmp_path):
    seen = []

    class Watcher:
        __name__ = "watcher"

        @hookimpl
        def digpy_notify_sla(self, miss):
            seen.append(miss)

    (tmp_path / "wf.dig").write_text(f"""timezone: Asia/Tokyo
sla:
  duration: 1s
+quiet:
  _sla:
    duration: 1s
    alert: false
    +mark:
      sh>: touch late
  sh>: '{WAIT_FOR_LATE}'
""")
    result = run_local(tmp_path, LocalRunOptions(workflow="wf", session="2026-04-01"), _Collect(),
                       registry=load_registry(extra=(Watcher(),)))
    assert result.success
    [miss] = seen
    assert (miss.project, miss.workflow, miss.session_time, miss.attempt_id, miss.task, miss.message, miss.fail) == (
        tmp_path.name, "wf", "2026-04-01T00:00:00+09:00", result.attempt_id, "+wf", "+wf did not finish within 1s",
        False)
    assert miss.deadline.endswith("+09:00")
