"""Configuration data that remembers where it was written: mappings and sequences loaded from a
file keep the location of themselves, of each key and of each value, so that any layer can report
an error as `file:LINE:COL` without knowing which front end read the file."""

from __future__ import annotations

from typing import Any

from digpy.core.errors import Location


class ConfigMap(dict[str, Any]):
    """A mapping from a file that knows the location of itself, of each key and of each value."""

    __slots__ = ("key_locs", "loc", "value_locs")

    def __init__(self, loc: Location | None = None) -> None:
        super().__init__()
        self.loc = loc
        self.key_locs: dict[str, Location] = {}
        self.value_locs: dict[str, Location] = {}


class ConfigList(list[Any]):
    """A sequence from a file that knows its own location and each item's."""

    __slots__ = ("item_locs", "loc")

    def __init__(self, loc: Location | None = None) -> None:
        super().__init__()
        self.loc = loc
        self.item_locs: list[Location] = []


def key_location(config: Any, key: str) -> Location | None:
    """Where `key` was written in `config`, if `config` came from a file."""
    if isinstance(config, ConfigMap):
        return config.key_locs.get(key, config.loc)
    return None


def value_location(config: Any, key: str) -> Location | None:
    """Where the value of `key` was written in `config`, if `config` came from a file."""
    if isinstance(config, ConfigMap):
        return config.value_locs.get(key) or config.key_locs.get(key, config.loc)
    return None


def location_of(value: Any) -> Location | None:
    """The location of a mapping or sequence loaded from a file."""
    return getattr(value, "loc", None)


def without_keys(config: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """A copy of `config` without `keys`, keeping the locations of the rest."""
    if not isinstance(config, ConfigMap):
        return {k: v for k, v in config.items() if k not in keys}
    out = ConfigMap(config.loc)
    for key, value in config.items():
        if key not in keys:
            out[key] = value
            if key in config.key_locs:
                out.key_locs[key] = config.key_locs[key]
                out.value_locs[key] = config.value_locs[key]
    return out


def to_plain(value: Any) -> Any:
    """Drop the location bookkeeping: plain dicts and lists, ready for JSON."""
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value
