"""The server's retention loop: prunes old history (server/services/retention.py) at start-up and
then every `--retention-interval`, as `--retention-age` and `--retention-sessions` say, and for a
workflow that has its own `retention:`, as that says. Without either, a pass is one small query."""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from digpy.server.keys import LOGS, SETTINGS, STORE, off_loop
from digpy.server.services.retention import prune

log = logging.getLogger("digpy.server.retention")


async def retention_loop(app: web.Application) -> None:
    """Prune, then sleep for the interval; a failed prune is logged and tried again next time."""
    settings = app[SETTINGS]
    while True:
        started = time.monotonic()
        try:
            pruned = await off_loop(app, prune, app[STORE], app[LOGS], settings.retention, now=time.time())
            if pruned.sessions:
                log.info("retention: removed %s in %.1f s", pruned.summary(), time.monotonic() - started)
        except Exception:
            log.exception("retention: pruning failed; trying again in %.0f s", settings.retention_interval)
        await asyncio.sleep(settings.retention_interval)
