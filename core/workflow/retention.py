"""A workflow's own retention, written at its top: `retention: {age: 30d, sessions: 10}` — how long a
server keeps its history. Read once when the workflow is compiled and stored with its definition at
push; the server's retention pass and `digpy prune` apply it to the workflow's sessions in place of
the server's `--retention-age` / `--retention-sessions` (each key on its own). A local run ignores it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from digpy.core import options
from digpy.core.errors import ConfigError
from digpy.core.workflow.located import key_location, value_location

KEYS = ("age", "sessions")


class Retention(NamedTuple):
    age: int | None = None  # seconds: sessions whose attempts all ended longer ago go
    sessions: int | None = None  # only the newest N sessions stay


NO_RETENTION = Retention()


def read_retention(config: Mapping[str, Any]) -> Retention:
    """The `retention` of a workflow config (located errors); NO_RETENTION when it has none."""
    value = config.get("retention")
    if value is None:
        return NO_RETENTION
    where = value_location(config, "retention")
    if not isinstance(value, Mapping) or not value:
        raise ConfigError("retention must be a mapping such as {age: 30d, sessions: 100}", location=where)
    unknown = [k for k in value if k not in KEYS]
    if unknown:
        raise ConfigError(f"retention has an unknown key '{unknown[0]}'", location=key_location(value, unknown[0])
                          or where, hint="age (a duration such as 30d) and sessions (a number)")
    age = value.get("age")
    sessions = value.get("sessions")
    seconds = None if age is None else options.duration(age, "retention age", value_location(value, "age") or where)
    if seconds is not None and seconds < 1:
        raise ConfigError("retention age must be at least 1s", location=value_location(value, "age") or where)
    return Retention(
        seconds,
        None if sessions is None else options.whole_number(sessions, "retention sessions", minimum=1,
                                                           location=value_location(value, "sessions") or where),
    )


__all__ = ["KEYS", "NO_RETENTION", "Retention", "read_retention"]
