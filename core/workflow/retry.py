"""`_retry`: how many times a task or group is retried and how long it waits in between."""

from __future__ import annotations

from typing import Any, NamedTuple

from digpy.core.errors import ConfigError, Location
from digpy.core.options import number, whole_number

# The longest wait between two tries, in seconds (366 days): a longer one is a mistake that would
# leave the attempt waiting for good; an exponential interval stops growing there.
MAX_INTERVAL = 366 * 24 * 3600
_KEYS = ("limit", "interval", "interval_type", "backoff", "max_interval", "exit_code")


class RetryPolicy(NamedTuple):
    """`_retry: N` or `{limit, interval, interval_type: constant|exponential, backoff, max_interval,
    exit_code}` (`backoff`: the factor each wait is multiplied by, 2 for `exponential`; `exit_code`:
    retry only a command that failed with one of these codes)."""

    limit: int = 0
    interval: float = 0.0
    backoff: float = 1.0
    max_interval: float | None = None
    exit_codes: tuple[int, ...] = ()

    def retries(self, error: dict[str, Any] | None) -> bool:
        """Whether a failure with `error` may be retried under this policy (its exit codes, if any)."""
        return not self.exit_codes or (error or {}).get("exit_code") in self.exit_codes

    def delay(self, retry_count: int) -> float:
        """Seconds to wait before retry number `retry_count + 1` (retry_count retries already done)."""
        wait = self.interval
        if self.backoff != 1.0:
            try:
                wait = self.interval * self.backoff ** min(retry_count, 1024)
            except OverflowError:
                wait = MAX_INTERVAL
        if self.max_interval is not None:
            wait = min(wait, self.max_interval)
        return min(wait, MAX_INTERVAL)


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
        backoff = 2.0 if kind == "exponential" else 1.0
        if value.get("backoff") is not None:
            backoff = number(value["backoff"], "_retry backoff", minimum=1, maximum=1000, location=location)
            if kind == "exponential" and backoff != 2.0:
                raise ConfigError("_retry: interval_type exponential doubles each wait; give either it or backoff",
                                  location=location, hint="backoff: 2 is the same as interval_type: exponential")
        max_interval = value.get("max_interval")
        codes = value.get("exit_code", [])
        codes = codes if isinstance(codes, list) else [codes]
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
            raise ConfigError("_retry exit_code must be an exit code or a list of them", location=location)
        return RetryPolicy(
            limit=whole_number(value["limit"], "_retry limit", minimum=0, location=location),
            interval=number(value.get("interval", 0), "_retry interval", minimum=0, maximum=MAX_INTERVAL,
                            location=location),
            backoff=backoff,
            max_interval=None if max_interval is None else number(max_interval, "_retry max_interval", minimum=0,
                                                                  maximum=MAX_INTERVAL, location=location),
            exit_codes=tuple(codes),
        )
    return RetryPolicy(limit=whole_number(value, "_retry", minimum=0, location=location))
