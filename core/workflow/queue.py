"""A workflow's limits on its attempts, written at its top: `queue: NAME` (the server's queue its
attempts wait in) and `max_active_attempts: N` (how many of its attempts may be active at once).
Read once when the workflow is compiled; the server enforces them (digpy.core.store.queues), a
local run ignores them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from digpy.core import options
from digpy.core.errors import ConfigError, Location
from digpy.core.workflow.located import value_location

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,254}$")


class AttemptLimits(NamedTuple):
    queue: str | None = None
    max_active_attempts: int | None = None
    queue_location: Location | None = None  # where `queue:` is written (for the server's refusal)


NO_LIMITS = AttemptLimits()


def queue_name(value: Any, what: str = "queue", location: Location | None = None) -> str:
    """A queue name: letters, digits, `_`, `.` and `-` (not first), at most 255 characters."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(f"{what} must be a queue name, got {value!r}", location=location,
                          hint="letters, digits, _ . and - (not first), at most 255 characters")
    return value


def attempt_limits(config: Mapping[str, Any]) -> AttemptLimits:
    """The `queue` and `max_active_attempts` of a workflow config (located errors)."""
    queue = config.get("queue")
    most = config.get("max_active_attempts")
    return AttemptLimits(
        queue_name(queue, location=value_location(config, "queue")) if queue is not None else None,
        options.whole_number(most, "max_active_attempts", minimum=1,
                             location=value_location(config, "max_active_attempts")) if most is not None else None,
        value_location(config, "queue") if queue is not None else None,
    )


__all__ = ["NO_LIMITS", "AttemptLimits", "attempt_limits", "queue_name"]
