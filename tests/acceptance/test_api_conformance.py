"""The server's OpenAPI document says exactly what the server accepts and answers: schemathesis
(examples, coverage, fuzzing and stateful phases, bounded) against a real server on 127.0.0.1 that
holds a pushed project, a schedule and an attempt. Every check must pass: no server error, every
request the document allows is accepted and every one it forbids refused, answers and their
headers (405 names the allowed methods in `Allow`) as documented. On PostgreSQL only the first
check runs: its text cannot hold the NUL character, which the server then refuses (400)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.test_server import wait_done, write_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 15  # per operation and phase: about 30 s on one core


@pytest.mark.slow
def test_the_server_does_what_its_openapi_document_says(server, database_url, tmp_path):
    project = write_project(tmp_path / "p", {
        "wf.dig": "+a:\n  sh>: echo hi\n",
        "daily.dig": "timezone: Asia/Tokyo\nschedule:\n  daily>: 07:00:00\n+a:\n  echo>: hi\n",
    })
    assert server.digpy("push", "p", "--project", str(project)).returncode == 0
    started = server.digpy("start", "p", "wf", "--session", "2026-01-01", "--json")
    assert started.returncode == 0, started.stderr
    wait_done(server, json.loads(started.stdout)["id"])
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis.hooks",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "st"), "--config-file", "tests/schemathesis/schemathesis.toml", "run",
         f"{server.endpoint}/api/openapi.json", "--url", server.endpoint,
         "--max-examples", str(EXAMPLES if database_url.startswith("sqlite") else 8), "--seed", "13", "--request-timeout", "10", "--no-color",
         # Server-sent events never end: their routes are tested in test_live_events.py.
         "--exclude-path-regex", "events$",
         *([] if database_url.startswith("sqlite") else ["--checks", "not_a_server_error"])],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
