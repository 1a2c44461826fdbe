"""`digpy run` as a user runs it: a real process, real files, real shell commands."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import LongSleep, wait_until

ROOT = Path(__file__).resolve().parents[2]


def lines(text: str) -> list[str]:
    return text.splitlines()


def test_the_readme_example_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "digpy", "run", str(ROOT / "projects/hello/hello.dig"),
                             "--rerun", "--session", "2026-01-31", "--output", "plain"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = lines(result.stdout)
    assert out[0] == "hello, data team. Session 2026-01-31 (2026-01-31T00:00:00+00:00)"
    assert sorted(out[1:3]) == ["extracting customers for data", "extracting orders for 2026-01-31"]
    assert out[3] == "report for Saturday 31 January 2026 is ready"
    assert "Success. Task state is saved at" in result.stderr


def test_stdout_holds_task_output_and_stderr_the_engine_log(project):
    project.write("wf.dig", "+a:\n  echo>: one\n+b:\n  sh>: printf 'two\\nthree\\n'; echo oops >&2\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "one\ntwo\nthree\n"
    assert "oops" in result.stderr
    assert "+wf+b: sh>:" in result.stderr


def test_params_builtins_and_exports_reach_sh_as_environment(project):
    project.write("wf.dig", "timezone: Asia/Tokyo\n_export:\n  db: {host: h1}\n  name: x\n"
                            "+a:\n  sh>: echo \"$name $session_date $session_tz_offset $db $cli\"\n")
    result = project.run("wf", "--session", "2026-03-01", "-p", "cli=given", "-p", "name=ignored")
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'x 2026-03-01 +0900 {"host":"h1"} given\n'


def test_sh_shells_workdir_and_long_scripts(project):
    """POSIX shells get the script as -c; other shells (here python3) and very long scripts get a
    script file; `_workdir` changes the directory; the engine's own descriptors stay closed."""
    long_script = "x=1\n" * 20_000 + "echo long $x"
    project.write("sub/marker.txt", "in sub\n")
    project.write("wf.dig", "+posix:\n  sh>: echo posix; set -o | grep -q errexit && echo has-set\n"
                            "  shell: [bash, -e]\n"
                            "+other:\n  sh>: print('from', 'python')\n  shell: [python3]\n"
                            "+long:\n  sh>: |\n" + "".join(f"    {line}\n" for line in long_script.splitlines()) +
                            "+dir:\n  _workdir: sub\n  sh>: cat marker.txt\n"
                            "+fds:\n  sh>: ls /proc/self/fd | wc -l\n"
                            "+dash:\n  sh>: \"-x 2>/dev/null || echo dash first\"\n"
                            "+plus:\n  sh>: \"+x 2>/dev/null || echo plus first\"\n"
                            "+pipe:\n  sh>: bash -c 'set -o pipefail; yes | head -n1 >/dev/null; echo pipe $?'\n")
    inherited = os.open(os.devnull, os.O_RDONLY)  # digpy is started with one more descriptor (fd 3+)
    try:
        result = subprocess.run(project.command("run", "wf", "--output", "plain"), cwd=project.path,
                                capture_output=True, text=True, timeout=60, pass_fds=(inherited,))
    finally:
        os.close(inherited)
    assert result.returncode == 0, result.stderr
    # ls sees 0, 1, 2 and its own directory handle: nothing of digpy's leaks into commands.
    # `yes` ends with SIGPIPE (141) as in a terminal: children get Python's ignored signals back.
    assert lines(result.stdout) == ["posix", "has-set", "from python", "long 1", "in sub", "4", "dash first",
                                    "plus first", "pipe 141"]


def test_exit_codes_are_kept_when_digpy_is_started_with_sigchld_ignored(project):
    import signal

    project.write("wf.dig", "+a:\n  sh>: exit 3\n")
    result = subprocess.run(project.command("run", "wf", "--output", "plain"), cwd=project.path, capture_output=True,
                            text=True, timeout=60, preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
    assert result.returncode == 1 and "Command failed with code 3" in result.stderr


def test_a_scalar_main_argument_is_its_text(project):
    """`sh>: true` runs the command `true`: a YAML boolean or number given to an operator is read
    as its text, as in Digdag (`true`, not Python's `True`)."""
    project.write("wf.dig", "+t:\n  sh>: true\n+e:\n  echo>: false\n+n:\n  echo>: 12\n+f:\n  echo>: 1.5\n"
                            "+w:\n  wait>: 0.1\n+l:\n  loop>: 2\n  _do:\n    echo>: ${i}\n"
                            "+i:\n  if>: true\n  _do:\n    echo>: yes\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "false\n12\n1.5\n0\n1\nyes\n"
    assert "+wf+t: sh>: true\n" in result.stderr


def test_workdir_is_checked_and_a_groups_workdir_is_its_tasks(project):
    project.write("sub/marker.txt", "in sub\n")
    project.write("afile", "")
    project.write("wf.dig", "_parallel: true\n+g:\n  _workdir: sub\n  +a:\n    sh>: cat marker.txt\n"
                            "+missing:\n  _workdir: nope\n  sh>: pwd\n"
                            "+file:\n  _workdir: afile\n  sh>: pwd\n"
                            "+outside:\n  _workdir: ../..\n  sh>: pwd\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "in sub\n"
    assert "Traceback" not in result.stderr
    assert "_workdir 'nope' is not a directory of the project" in result.stderr
    assert "_workdir 'afile' is not a directory of the project" in result.stderr
    assert "_workdir '../..' points outside the project directory" in result.stderr
    project.write("bad.dig", "+a:\n  _workdir: [x]\n  sh>: pwd\n")
    bad = project.run("bad")
    assert bad.returncode == 2 and bad.stderr.startswith("error: bad.dig:2:13: +bad+a: _workdir must be")


def test_values_reach_commands_and_messages_as_digdag_gives_them(project):
    """null params are "null" in the environment; non-string echo>/fail> values are compact JSON;
    a command killed by signal N failed with code 128 + N."""
    project.write("wf.dig", "_export:\n  nothing: null\n"
                            "+env:\n  sh>: echo \"[$nothing]\"\n"
                            "+echo:\n  echo>: {a: 1, b: [x]}\n"
                            "+killed:\n  sh>: kill -9 $$$$\n"
                            "+fail:\n  fail>: {reason: x}\n")
    result = project.run("wf")
    assert result.stdout == '[null]\n{"a":1,"b":["x"]}\n'
    assert "Command failed with code 137" in result.stderr
    project.write("f.dig", "+fail:\n  fail>: {reason: x}\n")
    assert '{"reason":"x"}' in project.run("f").stderr
    project.write("nosh.dig", "+a:\n  sh>: echo x\n  shell: [/nonexistent/sh]\n")
    missing = project.run("nosh")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "Cannot run program '/nonexistent/sh': No such file or directory" in missing.stderr


def test_params_file_and_dotted_keys(project):
    project.write("p.yml", "db:\n  host: from-file\n  port: 5432\n")
    project.write("wf.dig", "+a:\n  echo>: ${db.host}:${db.port} ${typeof db.port}\n")
    result = project.run("wf", "-P", "p.yml", "-p", "db.host=from-cli")
    assert result.stdout == "from-cli:5432 number\n", result.stderr


def test_a_failing_task_exits_1_and_names_the_task(project):
    project.write("wf.dig", "+ok:\n  echo>: fine\n+bad:\n  sh>: exit 3\n+never:\n  echo>: no\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "fine\n"
    assert "  * +wf+bad:\n    Command failed with code 3" in result.stderr
    assert "Traceback" not in result.stderr


def test_error_handler_sees_the_error(project):
    project.write("wf.dig", "+bad:\n  fail>: disk full\n  _error:\n    echo>: handled ${error.message}\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "handled disk full\n"


def test_retry_runs_the_command_again(project):
    project.write("wf.dig", "+flaky:\n  sh>: echo try >> tries.txt; test $(wc -l < tries.txt) -ge 3\n"
                            "  _retry: 3\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert (project.path / "tries.txt").read_text().count("try") == 3


def test_bad_files_give_one_located_line_and_exit_2(project):
    project.write("wf.dig", "+a:\n  echo>: x\n+b:\n  shh>: y\n")
    result = project.digpy("check", "wf")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: wf.dig:4:3: unknown operator 'shh>'; did you mean 'sh>'?"
    project.write("key.dig", "+a:\n  echo>: x\n+g:\n  _paralel: true\n  +b:\n    echo>: y\n")
    result = project.run("key")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: key.dig:4:3: group +key+g has an invalid key '_paralel'; " \
        "did you mean '_parallel'?"
    project.write("dup.dig", "+a:\n  echo>: 1\n+a:\n  echo>: 2\n")
    result = project.run("dup")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: dup.dig:3:1: duplicated key '+a' (first at line 1)"


def test_an_unknown_operator_fails_its_task_when_it_is_reached(project):
    """As in Digdag, a workflow with an operator no plugin provides runs: a warning with the
    location at the start, and the task fails when it is reached with Digdag's message (no retry),
    so its `_error` runs and parallel siblings finish; in a branch not taken it does nothing.
    `digpy check` still refuses it."""
    project.write("wf.dig", "_parallel: true\n+a:\n  td>: q.sql\n  _retry: 2\n"
                            "  _error:\n    echo>: handled ${error.message}\n+b:\n  echo>: sibling done\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert sorted(result.stdout.splitlines()) == ["handled Unknown task type: td", "sibling done"]
    assert "[WARNING] wf.dig:3:3: unknown operator 'td>'; run `digpy plugins` to list the operators " \
           "(a task using it fails when it is reached)\n" in result.stderr
    assert "  * +wf+a:\n    Unknown task type: td\n" in result.stderr
    project.write("branch.dig", "+c:\n  if>: ${use_td}\n  _do:\n    shh>: q.sql\n+d:\n  echo>: done\n")
    branch = project.run("branch", "-p", "use_td=false")
    assert branch.returncode == 0 and branch.stdout == "done\n", branch.stderr
    assert "branch.dig:4:5: unknown operator 'shh>'; did you mean 'sh>'?" in branch.stderr
    check = project.digpy("check", "branch")
    assert check.returncode == 2 and check.stderr.startswith("error: branch.dig:4:5: unknown operator 'shh>'")


def test_usage_errors_exit_2_without_a_traceback(project):
    result = project.run("missing")
    assert result.returncode == 2
    assert result.stderr.startswith("error: workflow 'missing' does not exist in")
    project.write("wf.dig", "+a:\n  echo>: x\n")
    for args in (["--session", "yesterday"], ["-p", "novalue"], ["--start", "+a", "--goal", "+a"], ["+nope"]):
        result = project.run("wf", *args)
        assert result.returncode == 2, args
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr, result.stderr


def test_undefined_variable_fails_the_task_with_digdags_message(project):
    project.write("wf.dig", "+a:\n  echo>: ${nope}\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert "Failed to evaluate a variable ${nope} (ReferenceError: nope is not defined)" in result.stderr
    # The engine's log names the failed task as it fails, also when it is the first task of the run.
    assert "[ERROR] +wf+a failed: Failed to evaluate a variable ${nope}" in result.stderr


def test_a_second_run_of_the_session_skips_what_succeeded(project):
    project.write("wf.dig", "+a:\n  sh>: echo a >> ran.txt\n+b:\n  sh>: echo b >> ran.txt; test -f ok\n"
                            "+c:\n  sh>: echo c >> ran.txt\n")
    first = project.run("wf", "--session", "2026-01-01")
    assert first.returncode == 1
    (project.path / "ok").touch()
    second = project.run("wf", "--session", "2026-01-01")
    assert second.returncode == 0, second.stderr
    assert (project.path / "ran.txt").read_text().split() == ["a", "b", "b", "c"]
    third = project.run("wf")  # --session last is the default
    assert third.returncode == 0
    assert "Reusing the last session time 2026-01-01T00:00:00+00:00" in third.stderr
    assert "3 tasks skipped" in third.stderr
    assert (project.path / "ran.txt").read_text().split() == ["a", "b", "b", "c"]
    project.run("wf", "--rerun")
    assert (project.path / "ran.txt").read_text().split() == ["a", "b", "b", "c", "a", "b", "c"]


def test_start_goal_end_and_single_task(project):
    project.write("wf.dig", "".join(f"+{n}:\n  echo>: {n}\n" for n in "abcd")
                  + "+g:\n  _export: {who: group}\n  +x:\n    echo>: x from ${who}\n")
    assert project.run("wf", "--session", "2026-01-01").stdout == "a\nb\nc\nd\nx from group\n"
    assert project.run("wf", "--session", "2026-01-01", "--start", "+c").stdout == "c\nd\nx from group\n"
    assert project.run("wf", "--session", "2026-01-01", "--goal", "+b").stdout == "b\n"
    assert project.run("wf", "--session", "2026-01-02", "--end", "+c").stdout == "a\nb\n"
    assert project.run("wf", "+x", "--session", "2026-01-03").stdout == "x from group\n"


def test_dry_run_runs_nothing_and_records_nothing(project):
    project.write("wf.dig", "+a:\n  sh>: touch made\n")
    result = project.run("wf", "--dry-run")
    assert result.returncode == 0
    assert "+wf+a: sh>: touch made" in result.stderr
    assert "dry run: nothing ran, nothing was recorded" in result.stderr and "state is saved" not in result.stderr
    assert not (project.path / "made").exists()
    assert project.run("wf").returncode == 0
    assert (project.path / "made").exists(), "the dry run left no success record behind"


def test_a_failed_generator_runs_again_with_the_current_params(project):
    """Only tasks that ended in success are skipped: an if> whose `_do` failed ended in group_error,
    so the next run evaluates it again (with f=0 it generates nothing) instead of replaying the
    failed child."""
    project.write("wf.dig", "+a:\n  sh>: echo a >> ran.txt\n"
                            "+b:\n  if>: ${f == \"1\"}\n  _do:\n    fail>: stop\n"
                            "+c:\n  echo>: c\n")
    first = project.run("wf", "--session", "2026-01-01", "-p", "f=1")
    assert first.returncode == 1 and "+wf+b^sub failed: stop" in first.stderr, first.stderr
    second = project.run("wf", "--session", "2026-01-01", "-p", "f=0")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "c\n"
    assert "+wf+a: skipped (succeeded in an earlier attempt)" in second.stderr
    assert "+wf+b: if>: false" in second.stderr and "stop" not in second.stderr
    assert (project.path / "ran.txt").read_text() == "a\n"


def test_a_resumed_session_with_other_params_says_they_do_not_apply_to_what_succeeded(project):
    project.write("wf.dig", '+a:\n  sh>: echo "${region}" >> ran.txt\n')
    assert project.run("wf", "--session", "2026-01-01", "-p", "region=eu").returncode == 0
    same = project.run("wf", "--session", "2026-01-01", "-p", "region=eu")
    assert "Params differ" not in same.stderr
    other = project.run("wf", "--session", "2026-01-01", "-p", "region=us")
    assert other.returncode == 0
    assert "Params differ from the earlier attempt of this session (region: eu -> us)" in other.stderr
    assert "--rerun" in other.stderr
    assert (project.path / "ran.txt").read_text().split() == ["eu"], "resume skips what succeeded, as in Digdag"


def test_an_edited_generator_runs_again_and_skips_its_children_that_succeeded(project):
    """A for_each> whose second child failed generates its children again from the edited file;
    the first child, which succeeded, is skipped and its store replayed."""
    project.write("steps.py", "import os\nimport digdag\n\n"
                              "def step(n):\n"
                              "    with open('ran.txt', 'a') as f:\n"
                              "        f.write(f'{n}\\n')\n"
                              "    if n == 2 and not os.path.exists('fixed'):\n"
                              "        raise ValueError('not yet')\n"
                              "    digdag.env.store({f'seen{n}': f'saw {n}'})\n")
    body = "  _do:\n    py>: steps.step\n+after:\n  echo>: ${seen1}, ${seen2}, ${seen3}\n"
    project.write("wf.dig", "+gen:\n  for_each>: {n: [1, 2]}\n" + body)
    first = project.run("wf", "--session", "2026-01-01")
    assert first.returncode == 1 and "ValueError: not yet" in first.stderr, first.stderr
    project.write("wf.dig", "+gen:\n  for_each>: {n: [1, 2, 3]}\n" + body)
    (project.path / "fixed").touch()
    second = project.run("wf", "--session", "2026-01-01")
    assert second.returncode == 0, second.stderr
    assert second.stdout == "saw 1, saw 2, saw 3\n"
    assert "+wf+gen^sub+for-0=n=0=1: skipped (succeeded in an earlier attempt)" in second.stderr
    assert (project.path / "ran.txt").read_text().split() == ["1", "2", "2", "3"]


def test_tasks_left_out_by_end_run_next_time(project):
    """--end leaves no success record for the tasks it left out, as docs/differences.md says."""
    project.write("wf.dig", "".join(f"+{n}:\n  echo>: {n}\n" for n in "abc"))
    assert project.run("wf", "--session", "2026-01-01", "--end", "+b").stdout == "a\n"
    again = project.run("wf", "--session", "2026-01-01")
    assert again.returncode == 0 and again.stdout == "b\nc\n", again.stderr


def test_a_run_killed_with_sigkill_resumes_without_rerunning_succeeded_tasks(project):
    project.write("wf.dig", "+a:\n  sh>: echo a >> ran.txt\n+b:\n  sh>: echo b >> ran.txt; "
                            "test -f second || sleep 60\n+c:\n  sh>: echo c >> ran.txt\n")
    proc = project.start("run", "wf", "--output", "plain", "--session", "2026-01-01")
    ran = project.path / "ran.txt"
    try:
        wait_until(lambda: ran.exists() and "b" in ran.read_text().split(), what="task b to start")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        # the orphaned command still holds the inherited stdout; stop it before reading to EOF
        subprocess.run(["pkill", "-f", "sleep 60"], check=False)
        proc.communicate()
    (project.path / "second").touch()
    result = project.run("wf", "--session", "2026-01-01")
    assert result.returncode == 0, result.stderr
    assert ran.read_text().split() == ["a", "b", "b", "c"]


def test_interrupt_stops_the_running_command_and_exits_130(project):
    sleep = LongSleep()
    project.write("wf.dig", f"+long:\n  sh>: echo started > started.txt; {sleep.command}; echo done > done.txt\n")
    proc = project.start("run", "wf", "--output", "plain")
    try:
        wait_until(lambda: (project.path / "started.txt").exists(), what="the command to start")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Canceled." in err
    assert not sleep.running(), "the command's process was stopped"


def test_check_lists_workflows_and_schedules(project):
    project.write("a.dig", "timezone: Asia/Tokyo\nschedule:\n  daily>: 07:00:00\n+x:\n  echo>: x\n+y:\n  echo>: y\n")
    project.write("b.dig", "+z:\n  sh>: true\n+r1:\n  require>: a\n+r2:\n  require>: a\n")
    result = project.digpy("check")
    assert result.returncode == 0, result.stderr
    assert "Definitions (2 workflows):" in result.stdout
    assert "a (3 tasks)" in result.stdout and "    b (4 tasks)\n      -> a\n\n" in result.stdout
    assert "Schedules (1 entry):" in result.stdout
    assert "first session time:" in result.stdout and "+0900" in result.stdout
    project.write("c.dig", "+bad:\n  sh>: x\n  _retry: {limt: 1}\n")
    bad = project.digpy("check")
    assert bad.returncode == 2 and bad.stderr.startswith("error: c.dig:3:")


def test_bad_arguments_and_broken_state_are_one_line(project):
    project.write("r.dig", "+a:\n  echo>: a\n+c:\n  echo>: c\n")
    assert project.run("r", "--session", "2024-01-01", "+c").stdout == "c\n", "+TASK after options"
    for workflow in ("", ".", "/", ".."):
        result = project.run(workflow)
        assert result.returncode == 2 and "is not a workflow" in result.stderr and "Traceback" not in result.stderr
    far = project.run("r", "--session", "9999-12-31 23:00:00")
    assert far.returncode == 2 and "is out of range" in far.stderr
    (project.path / "empty").mkdir()
    missing = project.digpy("run", "nothing", "--project", str(project.path / "empty"))
    assert missing.returncode == 2 and not (project.path / "empty" / ".digpy").exists(), \
        "a workflow that is not there leaves no .digpy behind"
    project.write("sub/.digpy", "not a directory")
    project.write("sub/r.dig", "+a:\n  echo>: a\n")
    result = project.digpy("run", "r", "--project", str(project.path / "sub"), "--output", "plain")
    assert result.returncode == 2 and "cannot keep the local state in" in result.stderr, result.stderr
    (project.path / ".digpy" / "state.db").write_bytes(b"garbage" * 100)
    result = project.run("r")
    assert result.returncode == 2 and "is not a digpy state database" in result.stderr
    for name in ("1abc", "x+y"):
        result = project.digpy("init", name)
        assert result.returncode == 2 and "invalid name" in result.stderr and not (project.path / name).exists()


def test_init_creates_a_project_that_runs(project):
    result = project.digpy("init", "newproj")
    assert result.returncode == 0, result.stderr
    assert (project.path / "newproj" / "newproj.dig").is_file()
    run = subprocess.run([sys.executable, "-m", "digpy", "run", "newproj", "--output", "plain"],
                         cwd=project.path / "newproj", capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("hello from ")
    again = project.digpy("init", "newproj")
    assert again.returncode == 2 and "already exists" in again.stderr


def test_version():
    result = subprocess.run([sys.executable, "-m", "digpy", "--version"], capture_output=True, text=True)
    assert result.stdout.startswith("digpy ")


def test_live_view_on_a_terminal_prefixes_output_with_the_task(project):
    import pty

    project.write("wf.dig", "+hello:\n  echo>: hi there\n")
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "digpy", "run", "wf"], cwd=project.path, stdin=slave,
                            stdout=slave, stderr=slave, env={**os.environ, "COLUMNS": "100"})
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
    finally:
        proc.wait(30)
        os.close(master)
    screen = b"".join(chunks).decode()
    assert proc.returncode == 0, screen
    assert "+wf+hello\x1b[0m hi there" in screen
    assert "done 1 · failed 0" in screen


def test_a_reader_that_goes_away_fails_the_task_in_one_line(project):
    """`digpy run wf | head -1`: the task whose output cannot be written fails; no traceback."""
    project.write("echo.dig", "+a:\n  echo>: first\n+b:\n  echo>: second\n")
    project.write("talk.py", "def run():\n    for i in range(200000):\n        print('py', i)\n")
    project.write("py.dig", "+c:\n  py>: talk.run\n")
    for workflow, failed in (("echo", "+echo+a"), ("py", "+py+c")):
        read, write = os.pipe()
        os.close(read)  # nobody will read
        with os.fdopen(write, "w") as closed:
            done = subprocess.run(project.command("run", workflow, "--output", "plain"), cwd=project.path,
                                  stdout=closed, stderr=subprocess.PIPE, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert f"  * {failed}:" in done.stderr and "Broken pipe" in done.stderr
        assert "digpy/" not in done.stderr.replace("/.digpy", "") and "core/" not in done.stderr, done.stderr


def test_a_closed_stdout_is_one_line(project):
    project.write("wf.dig", "+a:\n  echo>: hi\n")
    done = subprocess.run(project.command("run", "wf"), cwd=project.path, stdout=None, stderr=subprocess.PIPE,
                          text=True, timeout=60, preexec_fn=lambda: os.close(1))
    assert done.returncode == 2
    assert done.stderr.strip() == "error: standard output is closed; redirect it to /dev/null to drop the output"


def test_a_group_retry_reports_each_failure_once(project):
    project.write("wf.dig", "+g:\n  _retry: 1\n  +x:\n    sh>: echo try; exit 1\n")
    result = project.run("wf")
    assert result.returncode == 1
    assert result.stdout == "try\ntry\n", "the group ran its child twice"
    assert result.stderr.count("+wf+g+x failed: Command failed with code 1") == 2, result.stderr
    assert result.stderr.count("  * +wf+g+x:") == 1, "the summary names the failed task once"


def test_a_dry_run_sees_the_saved_state_and_changes_nothing(project):
    import hashlib

    def digest() -> str:  # SQLite may add its empty -wal/-shm companions when it reads; the data stays
        return hashlib.sha256((project.path / ".digpy" / "state.db").read_bytes()).hexdigest()

    project.write("wf.dig", "+a:\n  echo>: A ${session_date}\n+b:\n  fail>: boom\n")
    assert project.run("wf", "--session", "2020-01-01").returncode == 1
    project.write("wf.dig", "+a:\n  echo>: A ${session_date}\n+b:\n  echo>: B\n")
    before = digest()
    dry = project.run("wf", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Reusing the last session time 2020-01-01T00:00:00+00:00" in dry.stderr
    assert "+wf+a: skipped (succeeded in an earlier attempt)" in dry.stderr and "+wf+b: echo>: B" in dry.stderr
    assert dry.stdout == ""
    assert digest() == before, "a dry run writes nothing"
    real = project.run("wf")
    assert real.returncode == 0 and real.stdout == "B\n", real.stderr


def test_lines_of_parallel_tasks_arrive_whole(project):
    """A command that writes part of a line, then the rest later, while another task prints: each
    line still arrives whole on stdout (and long lines too)."""
    project.write("wf.dig", "+p:\n  _parallel: true\n"
                            "  +a:\n    sh>: printf 'A-start '; while [ ! -f b-done ]; do sleep 0.01; done; printf 'A-end\\n'\n"
                            "  +b:\n    sh>: echo B-line; touch b-done\n")
    result = project.run("wf")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "B-line\nA-start A-end\n"
    project.write("long.py", "import sys\nfor _ in range(5):\n    sys.stdout.write(sys.argv[1] * 200000 + '\\n')\n")
    project.write("long.dig", "+p:\n  _parallel: true\n" + "".join(
        f"  +{c}:\n    sh>: {sys.executable} long.py {c}\n" for c in "xyz"))
    result = project.run("long")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 15 and all(len(line) == 200000 and len(set(line)) == 1 for line in lines)


def test_output_is_out_before_the_task_is_recorded_as_done(project):
    """Killed while its output cannot be written yet (a full pipe nobody reads), a run has not
    recorded the printing task as succeeded, so the next run prints it."""
    import fcntl

    project.write("wf.dig", '+big:\n  echo>: ${"x".repeat(4095)}\n+final:\n  echo>: FINAL done\n')
    read, write = os.pipe()
    fcntl.fcntl(write, 1031, 4096)  # F_SETPIPE_SZ: one page, filled by +big's line
    proc = subprocess.Popen(project.command("run", "wf", "--output", "plain"), cwd=project.path, stdout=write,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": ""})
    os.close(write)
    try:
        wait_until(lambda: "pipe_write" in Path(f"/proc/{proc.pid}/wchan").read_text(),
                   what="digpy to block writing to the full pipe")
    finally:
        proc.kill()
        proc.wait()
    first = b""
    while chunk := os.read(read, 65536):
        first += chunk
    os.close(read)
    assert b"FINAL" not in first
    again = project.run("wf")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "FINAL done\n", "the task whose output was never written runs again"


def test_usage_errors_are_one_line(project):
    for args, expected in ((["run", "wf", "--max-task-threads", "x"], "error: argument --max-task-threads: "
                            "invalid int value: 'x' (see `digpy run --help`)"),
                           (["run"], "error: the following arguments are required: workflow (see `digpy run --help`)")):
        done = project.digpy(*args)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [expected]
