"""Reading a server's server-sent events in a test: a thread reads the stream into a queue."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any


class EventStream:
    """The events of one `text/event-stream` answer, as (event, data, arrival time) in a queue."""

    def __init__(self, url: str) -> None:
        self.response = urllib.request.urlopen(url, timeout=60)
        self._socket = self.response.fp.raw._sock  # to end a read that another thread is blocked in
        self.content_type = self.response.headers.get("Content-Type", "")
        self.events: queue.Queue[tuple[str, Any, float] | None] = queue.Queue()
        self.seen: list[tuple[str, Any, float]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        event, data = "message", []
        try:
            for raw in self.response:
                line = raw.decode("utf-8").rstrip("\n")
                if not line:
                    if data:
                        self.events.put((event, json.loads("\n".join(data)), time.monotonic()))
                    event, data = "message", []
                elif line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: "):
                    data.append(line[len("data: "):])
        except (OSError, ValueError, AttributeError):  # AttributeError: closed while reading
            pass
        self.events.put(None)  # the stream ended

    def next(self, timeout: float = 30) -> tuple[str, Any, float] | None:
        """The next event (None: the stream ended)."""
        item = self.events.get(timeout=timeout)
        if item is not None:
            self.seen.append(item)
        return item

    def wait_for(self, match: Callable[[str, Any], bool], timeout: float = 30, what: str = "an event",
                 seen: bool = False) -> tuple[str, Any, float]:
        """The next event that matches (with `seen`, also one already read)."""
        if seen:
            for item in self.seen:
                if match(item[0], item[1]):
                    return item
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}; seen: {[e for e, *_ in self.seen]}")
            try:
                item = self.next(left)
            except queue.Empty:
                continue
            if item is None:
                raise AssertionError(f"the stream ended before {what}; seen: {[e for e, *_ in self.seen]}")
            if match(item[0], item[1]):
                return item

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self.response.close()


def task_states(data: Any) -> dict[str, str]:
    return {t["fullName"]: t["state"] for t in data.get("tasks", [])}
