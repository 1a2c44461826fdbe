"""digpy secrets --local and digpy plugins, as a user runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys


def test_local_secrets_are_stored_encrypted_and_masked_in_output(project, tmp_path):
    env = {"DIGPY_CONFIG_DIR": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-m", "digpy", "secrets", "--local", "--set", "pg.password=-"],
                            input="hunter2-secret\n", capture_output=True, text=True, cwd=project.path,
                            env={**os.environ, **env}, timeout=30)
    assert result.returncode == 0, result.stderr
    stored = (tmp_path / "config" / "secrets.json").read_text()
    assert "hunter2" not in stored and "pg.password" in stored
    assert stat.S_IMODE((tmp_path / "config" / "secret.key").stat().st_mode) == 0o600
    project.write("api.json", json.dumps({"api.token": "tok-123456"}))
    assert project.digpy("secrets", "--local", "--set", "@api.json", env=env).returncode == 0
    listing = project.digpy("secrets", "--local", env=env)
    assert listing.stdout.splitlines() == ["api.token", "pg.password"]

    project.write("wf.dig", "+a:\n  _env:\n    PW: ${secret:pg.password}\n  sh>: echo \"connecting with $PW\"\n"
                            "+s:\n  sh>: echo \"in the script ${secret:pg.password}\"; tr '\\000' ' ' < /proc/$$$$/cmdline > argv.txt\n"
                            "+b:\n  _env:\n    T: ${secret:token}\n  _secrets:\n    token: api.token\n"
                            "  sh>: echo \"token $T\" >&2; exit 1\n")
    run = project.run("wf", env=env)
    # sh> fills ${secret:KEY} into its script, as Digdag's does; the value is masked in the output.
    assert run.stdout == "connecting with ***\nin the script ***\n"
    argv = (project.path / "argv.txt").read_text()
    assert "sh" in argv and "hunter2" not in argv, "a script with a secret is not an argument (ps shows those)"
    assert "token ***" in run.stderr
    assert "hunter2" not in run.stdout + run.stderr and "tok-123456" not in run.stdout + run.stderr

    assert project.digpy("secrets", "--local", "--delete", "api.token", env=env).returncode == 0
    assert project.digpy("secrets", "--local", env=env).stdout.splitlines() == ["pg.password"]
    gone = project.run("wf", "+b", env=env)
    assert "secret 'token' (_secrets: api.token) is not set" in gone.stderr


def test_values_are_never_taken_from_the_command_line(project, tmp_path):
    result = project.digpy("secrets", "--local", "--set", "k=visible", env={"DIGPY_CONFIG_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "a value is never given on the command line" in result.stderr
    bad = project.digpy("secrets", "--local", "--set", "bad key=-", env={"DIGPY_CONFIG_DIR": str(tmp_path)})
    assert bad.returncode == 2 and "invalid secret key 'bad key'" in bad.stderr


def test_plugins_lists_every_operator_with_its_package(project):
    result = project.digpy("plugins")
    assert result.returncode == 0
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    for op in ("echo>", "fail>", "sh>", "py>", "call>", "require>"):
        assert rows[op][1] == "digpy"
    as_json = json.loads(project.digpy("plugins", "--json").stdout)
    assert {"operator": "sh>", "package": "digpy", "version": rows["sh>"][2], "plugin": "digpy.plugins.sh"} in as_json


def test_failure_notification_hook_is_called_with_the_failed_tasks(tmp_path):
    from digpy.core.engine.local import LocalRunOptions, run_local
    from digpy.core.plugin_manager import load_registry
    from digpy.core.spi import hookimpl
    from digpy.core.testing import _Collect

    seen = []

    class Notifier:
        __name__ = "notifier"

        @hookimpl
        def digpy_notify_failure(self, attempt):
            seen.append(attempt)

    (tmp_path / "wf.dig").write_text("+ok:\n  echo>: fine\n+bad:\n  fail>: disk full\n")
    result = run_local(tmp_path, LocalRunOptions(workflow="wf"), _Collect(),
                       registry=load_registry(extra=(Notifier(),)))
    assert not result.success
    assert len(seen) == 1
    assert seen[0].workflow == "wf" and seen[0].state == "group_error"
    assert seen[0].failures == (("+wf+bad", "disk full"),)
