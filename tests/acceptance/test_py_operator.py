"""py> through the real command: binding, the digdag API, subtasks, failures."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_example_project(project):
    for name in ("py.dig", "py_tasks.py"):
        shutil.copy(ROOT / "projects/operators" / name, project.path / name)
    result = project.run("py")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "extracting 4 rows from orders",
        "Daily report: planning 4 rows",
        "Daily report: part 1 of size 2",
        "Daily report: part 2 of size 2",
    ]
    assert "+py+report^sub+subtask1: py>: py_tasks.Report.part" in result.stderr


def test_import_digpy_works_too_and_stores_flow_on(project):
    project.write("steps.py", "import digpy\n\ndef a():\n    digpy.env.store(answer=42)\n")
    project.write("wf.dig", "+a:\n  py>: steps.a\n+b:\n  echo>: ${answer}\n")
    result = project.run("wf")
    assert result.stdout == "42\n", result.stderr


def test_an_exception_fails_the_task_with_its_message_and_traceback(project):
    project.write("steps.py", "def broken():\n    raise RuntimeError('no data for today')\n")
    project.write("wf.dig", "+a:\n  py>: steps.broken\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert "  * +wf+a:\n    RuntimeError: no data for today" in result.stderr
    assert 'File "' in result.stderr and "steps.py" in result.stderr and "py_runtime" not in result.stderr


def test_a_missing_parameter_and_a_missing_module(project):
    project.write("steps.py", "def needs(day):\n    pass\n")
    project.write("wf.dig", "+a:\n  py>: steps.needs\n")
    assert "Method 'needs' requires parameter 'day' but not set" in project.run("wf").stderr
    project.write("wf2.dig", "+a:\n  py>: nosuch.fn\n")
    assert "no module named 'nosuch'" in project.run("wf2").stderr


def test_a_task_that_crashes_its_interpreter_only_fails_itself(project):
    project.write("steps.py", "import os\n\ndef crash():\n    os._exit(9)\n")
    project.write("wf.dig", "_parallel: true\n+a:\n  py>: steps.crash\n+b:\n  echo>: still here\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "still here\n"
    assert "Python command failed with code 9" in result.stderr


def test_python_option_chooses_the_interpreter(project, tmp_path):
    wrapper = tmp_path / "mypython"
    import sys

    wrapper.write_text(f"#!/bin/sh\necho wrapped\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    project.write("steps.py", "def hi():\n    print('hi')\n")
    project.write("wf.dig", f"_export:\n  py:\n    python: {wrapper}\n+a:\n  py>: steps.hi\n")
    result = project.run("wf")
    assert result.stdout == "wrapped\nhi\n", result.stderr


def test_tasks_do_not_share_python_state(project):
    project.write("steps.py", "import os\nSEEN = []\n\ndef a():\n    SEEN.append(1)\n    print(len(SEEN), os.getcwd())\n")
    project.write("sub/other.dig", "")
    project.write("wf.dig", "+a:\n  py>: steps.a\n+b:\n  py>: steps.a\n")
    result = project.run("wf")
    assert result.stdout.splitlines() == [f"1 {project.path}", f"1 {project.path}"], result.stderr


def test_an_interrupted_python_task_is_stopped(project):
    import signal

    from tests.conftest import wait_until

    project.write("steps.py", "import os, pathlib, time\n\ndef slow():\n"
                              "    pathlib.Path('started').write_text(str(os.getpid()))\n    time.sleep(120)\n")
    project.write("wf.dig", "+a:\n  py>: steps.slow\n")
    proc = project.start("run", "wf", "--output", "plain")
    try:
        wait_until(lambda: (project.path / "started").exists() and (project.path / "started").read_text(),
                   what="the task to start")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    import os

    pid = int((project.path / "started").read_text())
    wait_until(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2],
               timeout=10, what=f"the task's process {pid} to end")


def test_sys_exit_0_keeps_what_the_task_stored_and_values_must_be_json(project):
    project.write("steps.py", "import sys\nimport digdag\n\n"
                              "def done_early():\n    digdag.env.store({'s0': 'stored'})\n"
                              "    digdag.env.add_subtask({'echo>': 'child'})\n    sys.exit(0)\n\n"
                              "def not_json():\n    digdag.env.store({'o': object()})\n")
    project.write("wf.dig", "+a:\n  py>: steps.done_early\n+b:\n  echo>: s0=${s0}\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "child\ns0=stored\n"

    project.write("bad.dig", "+a:\n  py>: steps.not_json\n")
    bad = project.run("bad")
    assert bad.returncode == 1
    assert "TypeError: Parameters must be serializable using JSON" in bad.stderr
    # The traceback ends at the user's call, without the frames of digpy's runtime.
    assert "steps.py\", line 10, in not_json" in bad.stderr and "py_runtime" not in bad.stderr


def test_a_chained_exception_shows_its_cause(project):
    project.write("steps.py", "def wrapped():\n    try:\n        {}['k']\n    except KeyError as e:\n"
                              "        raise RuntimeError('could not load') from e\n")
    project.write("wf.dig", "+a:\n  py>: steps.wrapped\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert "KeyError: 'k'" in result.stderr and "direct cause of the following exception" in result.stderr
    assert "RuntimeError: could not load" in result.stderr and "py_runtime" not in result.stderr


def test_stores_of_generated_tasks_merge_in_declaration_order_not_finishing_order(project):
    """+A's generated task finishes after +B's; the task after the group still sees A's store, then
    B's over it, as in declaration order (and as a resumed run, which replays them in that order)."""
    project.write("tasks.py", "import os, time, digdag\n"
                              "def gen(tag):\n"
                              "    if tag == 'A':\n"
                              "        while not os.path.exists('b-stored'):\n"
                              "            time.sleep(0.01)\n"
                              "    digdag.env.add_subtask({'py>': 'tasks.store', 'tag': tag})\n"
                              "def store(tag):\n"
                              "    digdag.env.store({'k': tag})\n"
                              "    open(tag.lower() + '-stored', 'w').close()\n")
    project.write("wf.dig", "+par:\n  _parallel: true\n  +A:\n    py>: tasks.gen\n    tag: A\n"
                            "  +B:\n    py>: tasks.gen\n    tag: B\n+final:\n  echo>: k=${k}\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "k=B\n"


def test_digdags_parallel_subtasks_example_and_the_state_api(project):
    """Digdag's examples/tasks/generate_subtasks.py sets `digdag.env.subtask_config["_parallel"]`:
    the generated children run in parallel (subtask 0 waits for subtask 1 to have run). Tasks can
    also be put into subtask_config directly; set_state() and state_params exist, as in Digdag."""
    project.write("tasks.py", """\
import os
import time

import digdag


class ParallelProcess(object):
    def run(self, task_count):
        for i in range(task_count):
            digdag.env.add_subtask(ParallelProcess.subtask, index=i)
        digdag.env.subtask_config["_parallel"] = True
        digdag.env.subtask_config["+direct"] = {"echo>": "added directly"}
        digdag.env.set_state({"planned": task_count}, step=1)
        print("state", sorted(digdag.env.state_params.items()))

    def subtask(self, index):
        if index == 0:  # only returns if subtask 1 runs meanwhile
            deadline = time.monotonic() + 30
            while not os.path.exists("one.done") and time.monotonic() < deadline:
                time.sleep(0.01)
            assert os.path.exists("one.done"), "subtask 1 did not run in parallel"
        else:
            open("one.done", "w").close()
        print("Processing " + str(index))
""")
    project.write("wf.dig", "+split:\n  py>: tasks.ParallelProcess.run\n  task_count: 2\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "state [('planned', 2), ('step', 1)]"
    assert sorted(result.stdout.splitlines()[1:]) == ["Processing 0", "Processing 1", "added directly"]
    assert "+wf+split^sub+subtask1: py>: tasks.ParallelProcess.subtask" in result.stderr
