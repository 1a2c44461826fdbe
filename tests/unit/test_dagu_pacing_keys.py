"""Dagu's maxActiveSteps, delaySec and timeoutSec compile onto a group's `_parallel: {running: N}`,
`_start_interval` and `_timeout` (docs/dagu.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from digpy.core.errors import ConfigError
from digpy.core.language.registry import load_file
from digpy.core.workflow.tree import compile_workflow


def root_directives(tmp_path: Path, text: str):
    path = tmp_path / "dag.yaml"
    path.write_text(text, encoding="utf-8")
    return compile_workflow("dag", load_file(path, display_root=tmp_path)).tasks[0].directives


def test_the_dag_keys_become_the_roots_directives(tmp_path):
    directives = root_directives(tmp_path, "maxActiveSteps: 3\ndelaySec: 2\ntimeoutSec: 60\nsteps: [echo a, echo b]\n")
    assert (directives.running, directives.start_interval, directives.timeout) == (3, 2.0, 60.0)


def test_a_delay_of_zero_is_none(tmp_path):
    assert root_directives(tmp_path, "delaySec: 0\nsteps: [echo a]\n").start_interval == 0


def test_a_fan_outs_max_concurrent_is_a_sliding_window_too(tmp_path):
    path = tmp_path / "dag.yaml"
    path.write_text("steps:\n  - name: fan\n    run: child\n    parallel: {items: [a, b, c], maxConcurrent: 2}\n"
                    "---\nname: child\nsteps: [echo $ITEM]\n", encoding="utf-8")
    fan = next(t for t in compile_workflow("dag", load_file(path, display_root=tmp_path)).tasks if t.name == "+fan")
    assert fan.directives.running == 2


@pytest.mark.parametrize(("text", "message"), [
    ("delaySec: -1\nsteps: [echo a]\n", "dag.yaml:1:11: delaySec must be a whole number from 0"),
    ("delaySec: soon\nsteps: [echo a]\n", "dag.yaml:1:11: delaySec must be a whole number from 0"),
    ("timeoutSec: 0\nsteps: [echo a]\n", "dag.yaml:1:13: timeoutSec must be a whole number from 1"),
])
def test_bad_values_are_located_errors(tmp_path, text, message):
    with pytest.raises(ConfigError) as e:
        root_directives(tmp_path, text)
    assert str(e.value).startswith(message), str(e.value)
