"""Shared fixtures: a real `digpy` process in a temporary project."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest


class Project:
    """A temporary project directory and a way to run the real `digpy` command in it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "digpy", *args]

    def digpy(self, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run(self.command(*args), cwd=self.path, capture_output=True, text=True,
                              timeout=timeout, env=full_env)

    def run(self, workflow: str, *args: str, **kw) -> subprocess.CompletedProcess[str]:
        return self.digpy("run", workflow, *args, "--output", "plain", **kw)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(*args), cwd=self.path, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    """Poll `condition` until it holds (for state another process reaches), failing after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
