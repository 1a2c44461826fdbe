"""`_retry`: how many times a task or group is retried and how long it waits in between."""

from __future__ import annotations

from typing import Any, NamedTuple

from digpy.core.errors import ConfigError, Location

_KEYS = ("limit", "interval", "interval_type", "max_interval")


class RetryPolicy(NamedTuple):
    """`_retry: N` or `{limit, interval, interval_type: constant|exponential, max_interval}`."""

    limit: int = 0
    interval: float = 0.0
    exponential: bool = False
    max_interval: float | None = None

    def delay(self, retry_count: int) -> float:
        """Seconds to wait before retry number `retry_count + 1` (retry_count retries already done)."""
        wait = self.interval * (2**retry_count) if self.exponential else self.interval
        if self.max_interval is not None:
            wait = min(wait, self.max_interval)
        return wait


NO_RETRY = RetryPolicy()


def parse_retry(value: Any, location: Location | None = None) -> RetryPolicy:
    """Read a `_retry` value; a bad value is a ConfigError at `location`."""
    if value is None:
        return NO_RETRY
    if isinstance(value, dict):
        unknown = [k for k in value if k not in _KEYS]
        if unknown:
            raise ConfigError(
                f"_retry has unknown key '{unknown[0]}'", location=location, hint=f"allowed: {', '.join(_KEYS)}"
            )
        if "limit" not in value:
            raise ConfigError("_retry needs 'limit' (the number of retries)", location=location)
        kind = value.get("interval_type", "constant")
        if kind not in ("constant", "exponential"):
            raise ConfigError(
                f"_retry interval_type must be 'constant' or 'exponential', got '{kind}'", location=location
            )
        max_interval = value.get("max_interval")
        return RetryPolicy(
            limit=_count(value["limit"], "_retry limit", location),
            interval=_seconds(value.get("interval", 0), "_retry interval", location),
            exponential=kind == "exponential",
            max_interval=None if max_interval is None else _seconds(max_interval, "_retry max_interval", location),
        )
    return RetryPolicy(limit=_count(value, "_retry", location))


def _count(value: Any, what: str, location: Location | None) -> int:
    number = _number(value, what, location)
    if number != int(number) or number < 0:
        raise ConfigError(f"{what} must be a whole number >= 0, got {value!r}", location=location)
    return int(number)


def _seconds(value: Any, what: str, location: Location | None) -> float:
    number = _number(value, what, location)
    if number < 0:
        raise ConfigError(f"{what} must be >= 0 seconds, got {value!r}", location=location)
    return number


def _number(value: Any, what: str, location: Location | None) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{what} must be a number, got {value!r}", location=location)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{what} must be a number, got {value!r}", location=location)
