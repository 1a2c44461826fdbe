"""How `digpy run` shows a run: plain streams for pipes and files, a live view on a terminal."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sys
import time
import unicodedata
from typing import Any, TextIO

LOG_FORMAT = "%(asctime)s [%(levelname)s] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


class LogFormatter(logging.Formatter):
    """Digdag's `2016-01-30 00:00:00 -0800 [INFO] ...` lines; the time is formatted once a second
    (a run logs a line per task: strftime for each was a fifth of a line's cost)."""

    def __init__(self) -> None:
        super().__init__(LOG_FORMAT, DATE_FORMAT)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._stamp = time.strftime(DATE_FORMAT, time.localtime(second))
            self._second = second
        return self._stamp


def configure_logging(level: str = "info", stream: TextIO | None = None) -> logging.Handler:
    """Engine log lines go to stderr, in Digdag's `2016-01-30 00:00:00 -0800 [INFO] ...` shape.

    Records carry no caller, thread or process: no line shows them, and finding them costs more
    than the rest of a record (logging's documented optimisation switches)."""
    logging._srcfile = None  # skip the stack walk that finds the caller
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogFormatter())
    root = logging.getLogger("digpy")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    return handler


class PlainOutput:
    """Task output on stdout exactly as the tasks write it; progress as log lines on stderr."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.log = logging.getLogger("digpy.run")

    def task_output(self, task: Any, text: str, stream: str) -> None:
        out = self.stdout if stream == "stdout" else self.stderr
        try:
            out.write(text)
        except OSError:
            _drop(out)
            raise

    def task_started(self, task: Any, summary: str) -> None:
        self.log.info("%s: %s", task.full_name, summary)

    def task_finished(self, task: Any) -> None:
        if task.state.label == "error":
            message = (task.error or {}).get("message", "")
            self.log.error("%s failed: %s", task.full_name, message)

    def flush(self) -> None:
        try:
            self.stdout.flush()
        except OSError:  # the reader went away: the task that wrote it has failed already
            _drop(self.stdout)

    def start(self) -> None:
        pass

    def passthrough(self) -> tuple[int, int] | None:
        """Commands write straight to our stdout and stderr (flushed first, to keep the order)."""
        try:
            fds = (self.stdout.fileno(), self.stderr.fileno())
        except (AttributeError, OSError, ValueError):
            return None
        self.flush()
        try:
            self.stderr.flush()
        except OSError:
            _drop(self.stderr)
        return fds

    def close(self) -> None:
        self.flush()


def _drop(stream: TextIO) -> None:
    """After a write failed (the reader of a pipe went away, a full disk), send the rest of `stream`
    to /dev/null: commands writing to it directly stop failing, and Python's last flush at exit
    does not print a traceback."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
    except (OSError, ValueError, AttributeError):
        pass


class LiveOutput:
    """A terminal view: output lines prefixed with their task, and a status block at the bottom."""

    MAX_RUNNING_SHOWN = 5

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.started = time.monotonic()
        self.running: dict[int, tuple[str, float]] = {}
        self.done = 0
        self.failed = 0
        self.skipped = 0
        self._drawn = 0
        self._last_draw = 0.0
        self._ticker: asyncio.Task[None] | None = None
        self._partial: dict[int, str] = {}

    # The runner's Output protocol.
    def task_output(self, task: Any, text: str, stream: str) -> None:
        text = self._partial.pop(task.id, "") + text
        lines = text.split("\n")
        if lines[-1]:
            self._partial[task.id] = lines[-1]
        self._print([f"\x1b[2m{task.full_name}\x1b[0m {line}" for line in lines[:-1]])

    def task_started(self, task: Any, summary: str) -> None:
        if summary.startswith("skipped"):
            self.skipped += 1
            return
        self.running[task.id] = (task.full_name, time.monotonic())

    def task_finished(self, task: Any) -> None:
        if self.running.pop(task.id, None) is None and task.is_group:
            return
        rest = self._partial.pop(task.id, "")
        if rest:
            self._print([f"\x1b[2m{task.full_name}\x1b[0m {rest}"])
        if task.state.label == "error":
            self.failed += 1
            message = (task.error or {}).get("message", "")
            self._print([f"\x1b[31m✗ {task.full_name}\x1b[0m {message}"])
        elif task.state.label in ("success", "planned") and not task.is_group:
            self.done += 1

    def flush(self) -> None:
        now = time.monotonic()
        if now - self._last_draw >= 0.1:
            self._redraw()

    # Log records and the ticker.
    def emit_log(self, line: str) -> None:
        self._print([line])

    def passthrough(self) -> tuple[int, int] | None:
        return None

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        self._clear()
        self.stream.write(self._status(time.monotonic()) + "\n")
        self.stream.flush()

    def _status(self, now: float) -> str:
        return (f"running {len(self.running)} · done {self.done} · failed {self.failed}"
                + (f" · skipped {self.skipped}" if self.skipped else "") + f" · {now - self.started:.1f}s")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self._redraw()

    def _print(self, lines: list[str]) -> None:
        if not lines:
            return
        self._clear()
        self.stream.write("\n".join(lines) + "\n")
        self._draw()

    def _redraw(self) -> None:
        self._clear()
        self._draw()

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        now = time.monotonic()
        lines = []
        # Every line of the block fits in one row (by display width: a wide character takes two), or
        # a wrapped line would leave rows behind when the block is cleared.
        for name, since in list(self.running.values())[: self.MAX_RUNNING_SHOWN]:
            lines.append(f"  \x1b[33m●\x1b[0m {_fit(name, width - 14)} {now - since:6.1f}s")
        more = len(self.running) - self.MAX_RUNNING_SHOWN
        if more > 0:
            lines.append(_fit(f"  … and {more} more running", width - 1))
        lines.append(_fit(self._status(now), width - 1))
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)
        self._last_draw = now


def _fit(text: str, columns: int) -> str:
    """`text` cut to at most `columns` terminal columns (wide East Asian characters take two)."""
    used = 0
    for i, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 0 if unicodedata.combining(char) else 1
        if used > max(columns, 1):
            return text[:i]
    return text


class LiveLogHandler(logging.Handler):
    """Routes engine log records through the live view so they do not break the status block."""

    def __init__(self, view: LiveOutput) -> None:
        super().__init__()
        self.view = view
        self.setFormatter(LogFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.view.emit_log(self.format(record))
