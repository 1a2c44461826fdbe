"""Reading option values the way Digdag does: one reader per kind of value, for the compiler, the
schedules, the retry policy and every operator (plugins reach them through digpy.core.spi).

Values come from YAML (a number, a boolean) or from `${...}` (always a string), so each reader
takes both: `true` and `"true"`, `3` and `"3"`. A value of the wrong kind is a ConfigError that
names the option (`what`) and, for values read from a file, where it is written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from digpy.core.errors import ConfigError, Location

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$",
                       re.IGNORECASE)  # units in either case, as Digdag's DurationParam reads them


def boolean(value: Any, what: str, location: Location | None = None) -> bool:
    """true/false (or the strings, in any case, as `${...}` gives them); anything else is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ConfigError(f"{what} must be true or false, got {json.dumps(value, default=repr)}", location=location)


def number(value: Any, what: str, *, minimum: float | None = None, maximum: float | None = None,
           location: Location | None = None) -> float:
    """A finite number (or its text) within the bounds given; booleans, infinities and NaN are refused."""
    result: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value) if not isinstance(value, int) or abs(value) < 2**63 else math.inf
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            result = None
    if result is None or not math.isfinite(result):
        raise ConfigError(f"{what} must be a number, got {_shown(value)}", location=location)
    if minimum is not None and result < minimum:
        raise ConfigError(f"{what} must be >= {minimum:g}, got {_shown(value)}", location=location)
    if maximum is not None and result > maximum:
        most = int(maximum) if float(maximum).is_integer() else maximum
        raise ConfigError(f"{what} must be <= {most}, got {_shown(value)}", location=location)
    return result


def whole_number(value: Any, what: str, *, minimum: int | None = None, location: Location | None = None) -> int:
    """A whole number (or its text, or a float with no fraction)."""
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    else:
        try:
            as_float = number(value, what, location=location)
        except ConfigError:
            as_float = math.nan
        if not as_float.is_integer():
            raise ConfigError(f"{what} must be a whole number, got {_shown(value)}", location=location)
        result = int(as_float)
    if minimum is not None and result < minimum:
        raise ConfigError(f"{what} must be a whole number >= {minimum}, got {_shown(value)}", location=location)
    return result


def duration(value: Any, what: str = "duration", location: Location | None = None) -> int:
    """`10s`, `1m`, `1h30m`, `1d` (`1D` too), `90` (seconds) → whole seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        if value.strip().isdigit():
            return int(value.strip())
        match = _DURATION.match(value)
        if match and any(match.groups()):
            d, h, m, s = (int(g or 0) for g in match.groups())
            return ((d * 24 + h) * 60 + m) * 60 + s
    raise ConfigError(f"invalid {what} {value!r}", location=location, hint="write it like 30s, 5m, 1h30m or 1d")


_BYTES = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def byte_size(value: Any, what: str, *, minimum: int = 1, location: Location | None = None) -> int:
    """A size in bytes: a whole number, or its text with a unit `k`, `m`, `g`, `t` (powers of 1024, as
    `docker run -m` reads them; `512m`, `1.5g`, `64MiB` and `64MB` alike)."""
    result: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and (match := _BYTES.match(value)):
        result = int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])
    if result is None:
        raise ConfigError(f"{what} must be a size such as 512m or 2g (or a number of bytes), got {_shown(value)}",
                          location=location)
    if result < minimum:
        unit = next((u for u in "tgmk" if minimum % _BYTE_UNITS[u] == 0), "")
        shown = f"{minimum // _BYTE_UNITS[unit]}{unit}" if unit else f"{minimum} bytes"
        raise ConfigError(f"{what} must be at least {shown}, got {_shown(value)}", location=location)
    return result


def seconds(value: Any, what: str) -> float:
    """A duration in seconds where fractions are kept: a number of seconds (or its text: `wait>: 1.5`
    reaches the operator as "1.5"), or `30s`, `1h30m`, `1d`."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number(value, what, minimum=0)
    try:
        return float(duration(value, what))
    except ConfigError:
        pass
    try:
        return number(value, what, minimum=0)
    except ConfigError:
        raise ConfigError(f"{what} expects a duration like 30s, 5m, 1h30m or 1d, got {value!r}") from None


def parallel(value: Any, what: str = "_parallel", location: Location | None = None) -> tuple[bool, int | None]:
    """`_parallel: true | false | {limit: N} | {running: N}` (or their text, as `${...}` gives them)
    → (parallel, limit); `{running: N}` is parallel without batches (see parallel_running)."""
    on, limit, _running = parallel_mode(value, what, location)
    return on, limit


def parallel_mode(value: Any, what: str = "_parallel",
                  location: Location | None = None) -> tuple[bool, int | None, int | None]:
    """`_parallel` → (parallel, limit: batches of N, running: at most N children at once)."""
    if value is None:
        return False, None, None
    if isinstance(value, bool) or (isinstance(value, str) and value.strip().lower() in ("true", "false")):
        return boolean(value, what), None, None
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in ("limit", "running"):
        key = next(iter(value))
        try:
            n = whole_number(value[key], f"{what} {key}", minimum=1)
        except ConfigError:
            raise ConfigError(f"{what} {key} must be a whole number > 0, got {_shown(value[key])}",
                              location=location) from None
        return (True, n, None) if key == "limit" else (True, None, n)
    raise ConfigError(f"{what} must be true, false, {{limit: N}} or {{running: N}}, got {_shown(value)}",
                      location=location)


def json_or_value(value: Any) -> Any:
    """A value that may also be written as a JSON string (`'["a", "b"]'`)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def mapping(value: Any, what: str, expected: str) -> dict[str, Any]:
    """A mapping, or a JSON string of one."""
    value = json_or_value(value)
    if not isinstance(value, dict):
        raise ConfigError(f"{what} expects {expected}, got {value!r}")
    return value


def namespaced(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The task's params over the operator's namespace: `_export: {pg: {host: x}}` gives `host`
    to every `pg>` task below it, and a task's own `host:` wins."""
    base = params.get(name)
    merged = dict(base) if isinstance(base, dict) else {}
    merged.update({k: v for k, v in params.items() if k != name})
    return merged


def _shown(value: Any) -> str:
    """A value as the user wrote it: words for true/false/null, Python's repr otherwise."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return repr(value)
