"""The server's event hub: who is watching which attempt, and waking them when it changes.

Live pages (the web UI's server-sent events) watch one attempt, or every attempt. Changes reach
the hub from three places, so that a watcher hears of every change wherever the attempt runs:
the store's listeners in this process (the in-process executor, the API's own writes: at once,
after the commit), PostgreSQL's notifications (executor processes and other nodes) and, on SQLite,
the database's data version (executor processes: see digpy.server.changefeed).

The hub only says *that* something changed; a watcher then reads what it shows from the database
(digpy.server.services.live), so a burst of changes costs one read, and nothing is lost between
a wake-up and the read that follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator


class Watcher:
    """One live page's subscription: `wait()` returns when something it watches has changed."""

    def __init__(self, attempt_id: int | None) -> None:
        self.attempt_id = attempt_id  # None: every attempt
        self.closed = False
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for a change (True) or the timeout (False); True at once if one came meanwhile."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class EventHub:
    """Watchers by attempt id (None: watching every attempt). Used on the event loop only, except
    `publish_threadsafe`, which a database thread calls."""

    def __init__(self) -> None:
        self._watchers: dict[int | None, set[Watcher]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    @contextlib.contextmanager
    def watch(self, attempt_id: int | None) -> Iterator[Watcher]:
        watcher = Watcher(attempt_id)
        watcher.closed = self.closed
        self._watchers.setdefault(attempt_id, set()).add(watcher)
        try:
            yield watcher
        finally:
            group = self._watchers.get(attempt_id)
            if group is not None:
                group.discard(watcher)
                if not group:
                    del self._watchers[attempt_id]

    def watching(self) -> int:
        return sum(len(group) for group in self._watchers.values())

    def publish(self, attempt_ids: Iterable[int] | None) -> None:
        """These attempts changed (None: some attempts, which is not known): wake their watchers and
        those watching every attempt."""
        if attempt_ids is None:
            groups: Iterable[set[Watcher]] = list(self._watchers.values())
        else:
            groups = [self._watchers[key] for key in {*attempt_ids, None} if key in self._watchers]
        for group in groups:
            for watcher in group:
                watcher.wake()

    def publish_threadsafe(self, attempt_ids: Iterable[int] | None) -> None:
        """`publish` from another thread (a store listener); dropped once the loop is gone."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self.publish, None if attempt_ids is None else frozenset(attempt_ids))

    def close(self) -> None:
        """The server stops: every watcher ends its stream."""
        self.closed = True
        for group in self._watchers.values():
            for watcher in group:
                watcher.closed = True
                watcher.wake()
