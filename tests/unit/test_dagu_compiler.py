"""The Dagu front end compiles DAG files into the same task specs as `.dig` (no runner involved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.registry import load_file
from digpy.core.project import Project
from digpy.core.workflow.tree import compile_workflow


def compiled(tmp_path: Path, text: str, name: str = "dag"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return compile_workflow(name, load_file(path, display_root=tmp_path))


def upstreams(workflow) -> dict[str, list[str]]:
    names = [t.name for t in workflow.tasks]
    return {t.name: [names[i] for i in t.upstreams] for t in workflow.tasks[1:]}


def test_chain_adds_the_previous_step_to_explicit_depends_and_groups_run_side_by_side(tmp_path):
    workflow = compiled(tmp_path, """\
steps:
  - name: a
    command: echo a
  - - name: b1
      command: echo b1
    - name: b2
      command: echo b2
  - name: c
    command: echo c
  - name: d
    command: echo d
    depends: [a]
""")
    assert upstreams(workflow) == {"+a": [], "+b1": ["+a"], "+b2": ["+a"], "+c": ["+b1", "+b2"],
                                   "+d": ["+a", "+c"]}


def test_graph_orders_steps_by_depends_and_camel_and_snake_keys_mean_the_same(tmp_path):
    camel = compiled(tmp_path, """\
type: graph
maxActiveSteps: 3
steps:
  last:
    command: echo last
    depends: [first]
    continueOn: {failure: true}
  first:
    command: echo first
""")
    snake = compiled(tmp_path, """\
type: graph
max_active_steps: 3
steps:
  last:
    command: echo last
    depends: [first]
    continue_on: {failure: true}
  first:
    command: echo first
""")
    assert [t.name for t in camel.tasks[1:]] == ["+first", "+last"]
    assert camel.tasks[0].config["_parallel"] == {"running": 3}
    assert [t.config for t in camel.tasks] == [t.config for t in snake.tasks]
    assert camel.tasks[2].config["_continue_on"] == {"failure": True}


def test_names_are_generated_and_made_into_task_names(tmp_path):
    workflow = compiled(tmp_path, "steps:\n  - echo one\n  - name: build image!\n    command: echo two\n")
    assert [t.name for t in workflow.tasks[1:]] == ["+cmd_1", "+build_image_"]
    assert workflow.tasks[2].config["_command"] == "echo two"


def test_both_spellings_of_one_key_are_an_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        compiled(tmp_path, "maxActiveSteps: 1\nmax_active_steps: 2\nsteps: [echo]\n")
    assert str(e.value).startswith("dag.yaml:2:1: DAG 'dag': 'max_active_steps' is given twice")


def test_a_dollar_in_a_command_reaches_the_shell_as_written(tmp_path):
    workflow = compiled(tmp_path, "steps:\n  - command: echo $$ ${HOME:-x} $1 `date`\n")
    from digpy.core.language.expression import TemplateEngine

    rendered = TemplateEngine().render(workflow.tasks[1].config["_command"], {}, "UTC")
    assert rendered == "echo $$ ${HOME:-x} $1 `date`"


def test_yaml_files_without_steps_are_not_workflows(tmp_path):
    (tmp_path / "dag.yaml").write_text("steps: [echo hi]\n")
    (tmp_path / "params.yml").write_text("db: {host: x}\n")
    (tmp_path / "wf.dig").write_text("+a:\n  echo>: hi\n")
    assert [p.name for p in Project(tmp_path).workflow_files()] == ["dag.yaml", "wf.dig"]


def test_local_dags_after_three_dashes_run_inline(tmp_path):
    workflow = compiled(tmp_path, """\
steps:
  - name: call
    run: child
    params: "X=1"
---
name: child
steps:
  - command: echo child
""")
    assert [t.full_name for t in workflow.tasks] == ["+dag", "+dag+call", "+dag+call+cmd_1"]
    assert workflow.tasks[1].export == {"X": "1"}


def test_dag_settings_map_onto_the_workflow_settings(tmp_path):
    workflow = compiled(tmp_path, """\
schedule: ["CRON_TZ=Asia/Tokyo 30 2 * * *"]
maxActiveRuns: 2
queue: batch
timeoutSec: 90
steps: [echo hi]
""")
    assert workflow.schedule == {"cron>": "30 2 * * *"} and workflow.timezone == "Asia/Tokyo"
    assert workflow.limits.max_active_attempts == 2 and workflow.limits.queue == "batch"
    assert workflow.sla is None and workflow.tasks[0].directives.timeout == 90  # the steps are killed


def test_retry_backoff_is_a_factor_of_each_wait(tmp_path):
    workflow = compiled(tmp_path, """\
steps:
  - name: a
    command: "false"
    retryPolicy: {limit: 3, intervalSec: 4, backoff: 1.5, maxIntervalSec: 7}
  - name: b
    command: "false"
    retryPolicy: {limit: 3, intervalSec: 4, backoff: true}
""")
    a, b = (t.directives.retry for t in workflow.tasks[1:])
    assert [a.delay(n) for n in range(3)] == [4, 6, 7]
    assert [b.delay(n) for n in range(3)] == [4, 8, 16]
    with pytest.raises(ConfigError) as e:
        compiled(tmp_path, "steps:\n  - command: 'false'\n    retryPolicy: {limit: 1, backoff: 0.5}\n")
    assert str(e.value).startswith("dag.yaml:3:29: retryPolicy backoff must be true (doubling) or a factor above 1")


def test_one_run_at_a_time_unless_max_active_runs_says_otherwise(tmp_path):
    assert compiled(tmp_path, "steps: [echo hi]\n").limits.max_active_attempts == 1  # Dagu's default
    assert compiled(tmp_path, "maxActiveRuns: -1\nsteps: [echo hi]\n").limits.max_active_attempts is None
    assert compiled(tmp_path, "maxActiveRuns: 3\nsteps: [echo hi]\n").limits.max_active_attempts == 3
