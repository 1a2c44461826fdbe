"""What live pages are sent: an attempt and its tasks as they change, the attempts that start or
end, and a task log as it grows. Each follower belongs to one stream and remembers what it sent,
so that a read after a wake-up (digpy.server.events) sends only what changed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from digpy.core.store import DONE, catalog
from digpy.core.store.server import ServerStore
from digpy.server import rest

# A task's change is found by its `updated_at` (the runner's clock when the change was made), and
# written a moment later: a read looks back this far, so that a change whose write was delayed
# (a busy database) is not missed. What it finds again unchanged is not sent again.
LOOK_BACK_SECONDS = 120.0
LOG_CHUNK = 256 * 1024


class AttemptFollower:
    """One attempt for one stream: the first read has every task, later reads those that changed."""

    def __init__(self, store: ServerStore, attempt_id: int) -> None:
        self.store = store
        self.attempt_id = attempt_id
        self.sent: dict[int, tuple[Any, ...]] = {}  # task id -> its version when sent
        self.since: float | None = None  # the newest `updated_at` seen
        self.attempt: dict[str, Any] | None = None

    def read(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]], bool]:
        """(the attempt if it changed, the tasks that changed, whether the attempt is done). The
        attempt is read first: once it is done, the tasks read after it are final."""
        with self.store.begin() as conn:
            row = catalog.get_attempt(conn, self.attempt_id)
            if self.since is None:
                rows = catalog.list_task_rows(conn, self.attempt_id)
                versions = {int(r["id"]): (float(r["updated_at"]), int(r["state"]), int(r["flags"])) for r in rows}
            else:
                versions = catalog.task_versions(conn, self.attempt_id, self.since - LOOK_BACK_SECONDS)
                changed = [i for i, v in versions.items() if self.sent.get(i) != v]
                rows = catalog.task_rows(conn, self.attempt_id, changed) if changed else []
        attempt = rest.attempt(row)
        new_attempt = attempt if attempt != self.attempt else None
        self.attempt = attempt
        tasks = []
        for r in rows:  # sent as read (a version read with the row could be older than the row)
            self.sent[int(r["id"])] = (float(r["updated_at"]), int(r["state"]), int(r["flags"]))
            tasks.append(rest.task(r))
        if versions:
            newest = max(v[0] for v in versions.values())
            self.since = newest if self.since is None else max(self.since, newest)
        elif self.since is None:
            self.since = time.time()
        return new_attempt, tasks, bool(row["state_flags"] & DONE)

    def first(self, cache: SnapshotCache) -> tuple[dict[str, Any], str, bool]:
        """The first read, for a stream's first events: (the attempt, the `snapshot` event's data
        already encoded, whether the attempt is done). A done attempt's snapshot comes from `cache`
        when it is there, and goes into it when it is not."""
        with self.store.begin() as conn:
            row = catalog.get_attempt(conn, self.attempt_id)
        key = (self.attempt_id, float(row["created_at"]))
        if row["state_flags"] & DONE:
            text = cache.get(key)
            if text is not None:
                self.attempt = rest.attempt(row)
                return self.attempt, text, True
        attempt, tasks, done = self.read()
        text = encode({"tasks": tasks})
        if done:  # read after the attempt was done: final
            cache.put(key, text)
        return attempt or rest.attempt(row), text, done


class SnapshotCache:
    """The `snapshot` texts of done attempts (their tasks no longer change), the most recently opened
    first, at most `limit` characters in all: opening a large attempt again, or on a second page,
    reads and encodes nothing (docs/performance.md, "Web UI"). Keyed by the attempt's id and creation
    time, so an id SQLite gives again after a prune is another key."""

    def __init__(self, limit: int = 64 * 1024 * 1024) -> None:
        self.limit = limit
        self.size = 0
        self._texts: OrderedDict[tuple[int, float], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, float]) -> str | None:
        with self._lock:
            text = self._texts.get(key)
            if text is not None:
                self._texts.move_to_end(key)
            return text

    def put(self, key: tuple[int, float], text: str) -> None:
        if len(text) > self.limit:
            return
        with self._lock:
            old = self._texts.pop(key, None)
            self.size += len(text) - (len(old) if old is not None else 0)
            self._texts[key] = text
            while self.size > self.limit:
                _, dropped = self._texts.popitem(last=False)
                self.size -= len(dropped)


WARM_TASKS = 1000  # an attempt this large has its snapshot made when it ends


def warm(store: ServerStore, cache: SnapshotCache, attempt_id: int, *, min_tasks: int = WARM_TASKS) -> bool:
    """When a large attempt has ended (the executor says so): make its snapshot for `cache` now,
    so that its first page, too, reads and encodes nothing (docs/performance.md). Whether it did."""
    with store.begin() as conn:
        if catalog.task_count(conn, attempt_id) < min_tasks:
            return False
    return AttemptFollower(store, attempt_id).first(cache)[2]


def encode(data: Any) -> str:
    """An event's data as the stream sends it: compact JSON on one line."""
    return json.dumps(data, separators=(",", ":"))


class AttemptsFollower:
    """Every attempt, for the pages that list them: which attempts started, were killed or ended."""

    def __init__(self, store: ServerStore) -> None:
        self.store = store
        self.newest: int | None = None
        self.open: dict[int, int] = {}

    def read(self) -> list[dict[str, Any]]:
        """The attempts that changed since the last read (none at the first)."""
        with self.store.begin() as conn:
            newest, open_ = catalog.open_attempts(conn)
            if self.newest is None:
                changed: set[int] = set()
            else:
                changed = {i for i in open_ if i > self.newest or self.open.get(i) != open_[i]}
                changed |= {i for i in self.open if i not in open_}  # ended
                changed |= set(range(self.newest + 1, newest + 1)) if newest - self.newest <= 1000 else set()
            rows = catalog.attempts_by_id(conn, sorted(changed)) if changed else []
        self.newest, self.open = newest, open_
        return [rest.attempt(r) for r in rows]


def read_log(path: Path, offset: int, limit: int = LOG_CHUNK) -> tuple[str, int]:
    """Text of a log file from byte `offset` (at most `limit` bytes, never ending inside a UTF-8
    character: its rest comes with the next read), and the offset after it."""
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read(limit)
    if len(data) == limit:
        data = data[:_whole_characters(data)]
    return data.decode("utf-8", errors="replace"), offset + len(data)


def _whole_characters(data: bytes) -> int:
    """The length of `data` without a last UTF-8 character that is cut short."""
    end = len(data)
    i = end - 1
    while i >= 0 and end - i < 4 and data[i] & 0xC0 == 0x80:  # continuation bytes
        i -= 1
    if i < 0:
        return end
    lead = data[i]
    need = 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
    return i if i + need > end else end
