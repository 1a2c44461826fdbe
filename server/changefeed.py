"""Changes made by other processes, into the event hub: PostgreSQL notifications, SQLite's data version.

Attempts run in executor processes (`--executor-processes`) or on other nodes write the database,
not this process's hub. On PostgreSQL every write that changes an attempt notifies
CHANGES_CHANNEL with its id (digpy.core.store.sql), and a thread here listens on a connection of
its own. SQLite has no notifications: a thread reads `PRAGMA data_version`, which changes when
another connection commits (a read of shared memory, no disk), a few times a second, and wakes
every watcher when it does. A server whose executor runs in its own process learns of its changes
from the store's listeners and needs no such thread on SQLite.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from digpy.core.store.server import ServerStore
from digpy.core.store.sql import CHANGES_CHANNEL
from digpy.server.events import EventHub

log = logging.getLogger("digpy.server.changefeed")
SQLITE_INTERVAL = 0.1  # seconds between two reads of SQLite's data version
LISTEN_TIMEOUT = 0.5  # how often the PostgreSQL listener looks whether it should stop
RECONNECT_SECONDS = 1.0


class ChangeFeed:
    """A thread that publishes other processes' changes to the hub until `stop()`."""

    def __init__(self, store: ServerStore, hub: EventHub) -> None:
        self.store = store
        self.hub = hub
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        target = self._listen if self.store.dialect == "postgresql" else self._watch_sqlite
        self._thread = threading.Thread(target=target, name="digpy-changefeed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _connect(self) -> Any:
        """A database connection of the feed's own, outside the pool (it is held for the server's life)."""
        engine = self.store.engine
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        return engine.dialect.connect(*cargs, **cparams)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                conn = self._connect()
            except Exception as e:
                log.warning("can't listen for changes (%s); trying again", str(e).splitlines()[0] if str(e) else e)
                self._stop.wait(RECONNECT_SECONDS)
                continue
            try:
                conn.autocommit = True
                conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                self.hub.publish_threadsafe(None)  # what changed while nobody listened
                while not self._stop.is_set():
                    for notice in conn.notifies(timeout=LISTEN_TIMEOUT):  # each as it arrives
                        if notice.payload.isdigit():
                            self.hub.publish_threadsafe((int(notice.payload),))
            except Exception as e:
                if not self._stop.is_set():
                    log.warning("listening for changes failed (%s); reconnecting", str(e).splitlines()[0])
                    self._stop.wait(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    conn.close()

    def _watch_sqlite(self) -> None:
        conn = self._connect()
        try:
            last = None
            while not self._stop.wait(SQLITE_INTERVAL):
                version = conn.execute("PRAGMA data_version").fetchone()[0]
                if last is not None and version != last:
                    self.hub.publish_threadsafe(None)
                last = version
        except Exception:
            log.exception("watching the SQLite database for changes failed; live pages follow this process only")
        finally:
            conn.close()
