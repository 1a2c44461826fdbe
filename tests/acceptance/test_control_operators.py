"""loop>, for_each>, for_range>, if>, wait> through the real command."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def example(project, name):
    shutil.copy(ROOT / "projects/operators" / f"{name}.dig", project.path / f"{name}.dig")
    result = project.run(name)
    assert result.returncode == 0, result.stderr
    return result


def test_loop(project):
    result = example(project, "loop")
    assert result.stdout.splitlines() == ["round 0", "round 1", "round 2"]
    assert "+loop+rounds^sub+loop-2: echo>: round 2" in result.stderr


def test_for_each_runs_the_product_with_digdags_child_names(project):
    result = example(project, "for_each")
    assert result.stdout.splitlines() == ["eat the apple", "throw the apple", "eat the banana", "throw the banana"]
    assert "+for_each+deliver^sub+for-0=fruit=1=banana&1=verb=0=eat:" in result.stderr


def test_for_each_accepts_json_strings_and_encodes_names(project):
    project.write("wf.dig", "+t:\n  for_each>: '{\"n\": [1, 2], \"s\": \"[\\\"a b\\\", \\\"verylongvalue\\\"]\"}'\n"
                            "  _do:\n    echo>: ${n}-${s}\n")
    result = project.run("wf")
    assert result.stdout.splitlines() == ["1-a b", "1-verylongvalue", "2-a b", "2-verylongvalue"], result.stderr
    assert "+for-0=n=0=1&1=s=0=a%20b:" in result.stderr
    assert "+for-0=n=1=2&1=s=1=verylong:" in result.stderr
    # "~" and "*" are encoded like Java's URLEncoder does; no keys: no children.
    project.write("t.dig", "+t:\n  for_each>: {k: [\"a~b\", \"x*y\"]}\n  _do:\n    echo>: ${k}\n"
                           "+none:\n  for_each>: {}\n  _do:\n    echo>: never\n")
    result = project.run("t")
    assert result.stdout.splitlines() == ["a~b", "x*y"], result.stderr
    assert "+for-0=k=0=a%7Eb:" in result.stderr and "+for-0=k=1=x%2Ay:" in result.stderr


def test_for_range_by_slices_and_by_step(project):
    assert example(project, "for_range").stdout.splitlines() == [
        "chunk 0 covers 0 to 4", "chunk 1 covers 4 to 8", "chunk 2 covers 8 to 10"]
    project.write("wf.dig", "+t:\n  for_range>: {from: 1, to: 6, step: 2}\n  _do:\n    echo>: ${range.from}\n")
    result = project.run("wf")
    assert result.stdout.splitlines() == ["1", "3", "5"]
    assert "+wf+t^sub+range-from=5&to=6:" in result.stderr
    project.write("bad.dig", "+t:\n  for_range>: {from: 1, to: 6, step: 2, slices: 2}\n  _do:\n    echo>: x\n")
    assert "for_range> takes step or slices, not both" in project.run("bad").stderr


def test_if_takes_the_right_branch_and_rejects_non_booleans(project):
    assert example(project, "if").stdout == "deploying to production\n"
    assert project.run("if", "-p", "env=dev", "--rerun").stdout == "deploying to production\n", "_export wins"
    project.write("wf.dig", "+t:\n  if>: ${flag}\n  _else_do:\n    echo>: else\n")
    assert project.run("wf", "-p", "flag=false").stdout == "else\n"
    assert project.run("wf", "-p", "flag=true", "--rerun").stdout == ""
    bad = project.run("wf", "-p", "flag=maybe", "--rerun")
    assert bad.returncode == 1
    assert "Expected 'true' or 'false' for key '_command' but got 'maybe'" in bad.stderr
    project.write("empty.dig", "+t:\n  if>: true\n  _do: {}\n  _else_do: {}\n")
    assert "if> needs _do or _else_do (or both)" in project.run("empty").stderr


def test_parallel_option_may_be_an_expression(project):
    project.write("wf.dig", "+t:\n  loop>: 4\n  _parallel: ${p}\n  _do:\n    sh>: sleep 0.5\n")
    started = time.monotonic()
    assert project.run("wf", "-p", "p=true").returncode == 0
    assert time.monotonic() - started < 1.9, "four 0.5 s sleeps ran at once"


def test_non_blocking_wait_lets_other_tasks_run(project):
    started = time.monotonic()
    result = example(project, "wait")
    elapsed = time.monotonic() - started
    assert result.stdout.splitlines() == ["working while the other task waits", "waited"]
    assert 2.0 <= elapsed < 4.5


def test_many_generated_tasks(project):
    project.write("wf.dig", "+t:\n  loop>: 2000\n  _parallel: true\n  _do:\n    echo>: ${i}\n+after:\n  echo>: end\n")
    result = project.run("wf", "--log-level", "warning")
    lines = result.stdout.splitlines()
    assert len(lines) == 2001 and sorted(lines[:-1], key=int) == [str(i) for i in range(2000)]
    assert lines[-1] == "end"


def test_operators_report_bad_input(project):
    project.write("wf.dig", "+a:\n  loop>: lots\n  _do:\n    echo>: x\n")
    assert "loop> count must be a whole number, got 'lots'" in project.run("wf").stderr
    project.write("wf2.dig", "+a:\n  loop>: 2\n")
    assert "loop> needs _do" in project.run("wf2").stderr
    project.write("wf3.dig", "+a:\n  wait>: soon\n")
    assert "wait> expects a duration like 30s" in project.run("wf3").stderr
    project.write("wf5.dig", "_parallel: true\n+a:\n  wait>: 1s\n  blocking: maybe\n"
                             "+b:\n  wait>: 1s\n  blocking: true\n  poll_interval: 1s\n")
    result = project.run("wf5")
    assert 'wait> blocking must be true or false, got "maybe"' in result.stderr
    assert "wait> poll_interval can't be specified with blocking: true" in result.stderr
    # A mistyped count is refused before it fills the memory.
    project.write("wf4.dig", "_parallel: true\n+a:\n  loop>: 100000000\n  _do:\n    echo>: x\n"
                             "+b:\n  for_range>: {from: 0, to: 5000000, step: 1}\n  _do:\n    echo>: x\n"
                             "+c:\n  for_each>: {a: [1,2,3,4,5,6,7,8,9,10], b: [1,2,3,4,5,6,7,8,9,10],"
                             " c: [1,2,3,4,5,6,7,8,9,10], d: [1,2,3,4,5,6,7,8,9,10], e: [1,2,3,4,5,6,7,8,9,10],"
                             " f: [1,2,3,4,5,6,7,8,9,10], g: [1,2]}\n  _do:\n    echo>: x\n")
    result = project.run("wf4")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "loop> would generate 100,000,000 tasks; one operator generates at most 1,000,000" in result.stderr
    assert "for_range> would generate 5,000,000 tasks" in result.stderr
    assert "for_each> would generate 2,000,000 tasks" in result.stderr
