"""Task logs on disk: one file per task of an attempt, appended while the task runs.

Output is appended as it arrives (a command's output comes in lines or 64 KiB chunks), so a log
can be read and followed while its task is still running.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from digpy.core.engine.runner import NullOutput

MAX_NAME = 200


def file_name(task_name: str) -> str:
    """A task's log file name: its full name, shortened with a digest when very long."""
    safe = task_name.replace("/", "%2F")
    if len(safe) > MAX_NAME:
        safe = safe[:MAX_NAME] + "~" + hashlib.sha1(task_name.encode()).hexdigest()[:12]
    return safe + ".log"


class LogStore:
    """The task-log directory of a server (`--task-log DIR`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # task output may hold what masking missed

    def attempt_dir(self, attempt_id: int) -> Path:
        return self.directory / str(attempt_id)

    def files(self, attempt_id: int, task_prefix: str | None = None,
              started: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
        """The attempt's log files in the order their tasks started (`started`: task full name →
        first start), then those of tasks not in `started`, by name."""
        folder = self.attempt_dir(attempt_id)
        if not folder.is_dir():
            return []
        order = {file_name(name): at for name, at in (started or {}).items()}
        out = []
        for entry in sorted(os.scandir(folder), key=lambda e: (order.get(e.name, math.inf), e.name)):
            if not entry.name.endswith(".log"):
                continue
            task = entry.name[: -len(".log")].replace("%2F", "/")
            if task_prefix and not task.startswith(task_prefix):
                continue
            stat = entry.stat()
            out.append({"fileName": entry.name, "fileSize": stat.st_size, "taskName": task, "fileTime": stat.st_mtime})
        return out

    def path(self, attempt_id: int, name: str) -> Path | None:
        if "/" in name or name.startswith(".") or not name.endswith(".log"):
            return None
        path = self.attempt_dir(attempt_id) / name
        return path if path.is_file() else None


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


class TaskLogWriter(NullOutput):
    """The runner Output of a server attempt: every task's output goes to its log file."""

    def __init__(self, logs: LogStore, attempt_id: int) -> None:
        self.folder = logs.attempt_dir(attempt_id)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _add(self, task: Any, text: str) -> None:
        with open(self.folder / file_name(task.full_name), "a", encoding="utf-8", opener=_private) as f:
            f.write(text)

    def task_output(self, task: Any, text: str, stream: str) -> None:
        self._add(task, text)

    def task_started(self, task: Any, summary: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
        self._add(task, f"{stamp} [INFO] {task.full_name}: {summary}\n")

    def task_finished(self, task: Any) -> None:
        if task.state.label == "error":
            stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
            message = (task.error or {}).get("message", "")
            details = (task.error or {}).get("details") or ""
            self._add(task, f"{stamp} [ERROR] {task.full_name} failed: {message}\n{details}")
