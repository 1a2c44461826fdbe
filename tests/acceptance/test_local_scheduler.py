"""`digpy scheduler --project DIR`: a project directory's schedules run on this machine, follow its
files, and a broken file keeps the previous revision running."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import free_port, wait_until


def get(endpoint: str, path: str) -> dict:
    with urllib.request.urlopen(endpoint + path, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_the_local_scheduler_runs_the_directorys_schedules_and_follows_its_files(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    (project / "wf.dig").write_text("schedule:\n  seconds_interval>: 1\n+a:\n  echo>: one\n")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp_path / "scheduler.log"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "digpy", "scheduler", "--project", str(project), "--port",
                                    str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        def sessions() -> list[dict]:
            try:
                return get(endpoint, "/api/sessions")["sessions"]
            except OSError:
                return []

        wait_until(lambda: len(sessions()) >= 2, timeout=30, what="sessions of the directory's schedule")
        revision = get(endpoint, "/api/projects")["projects"][0]["revision"]
        (project / "wf.dig").write_text("schedule:\n  seconds_interval>: 1\n+a:\n  echo>: two\n")
        wait_until(lambda: get(endpoint, "/api/projects")["projects"][0]["revision"] != revision, timeout=30,
                   what="the changed file to be loaded")
        (project / "wf.dig").write_text("+a: [\n")
        wait_until(lambda: "was not loaded (the previous revision keeps running): wf.dig:" in log.read_text(),
                   timeout=30, what="the broken file to be reported")
        count = len(sessions())
        wait_until(lambda: len(sessions()) > count, timeout=30, what="the previous revision to keep running")
        assert (project / ".digpy" / "scheduler" / "digpy.db").is_file(), "its state lives in the project"
    finally:
        process.terminate()
        process.wait(30)
