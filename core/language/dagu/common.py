"""Small helpers of the Dagu front end: names, numbers, texts, and located mappings."""

from __future__ import annotations

import re
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.workflow.located import ConfigMap, key_location, value_location

_DURATION_MAX = 10 ** 9


def output_name(value: Any, loc: Location | None) -> str:
    """A step's `output`: a variable name (`RESULT`, `$RESULT`), or Dagu 1.30's `{name: RESULT}`."""
    if isinstance(value, dict):
        extra = [k for k in value if k != "name"]
        if extra:
            hint = ("key and omit shape Dagu's outputs.json (its API's list of a run's outputs), which digpy "
                    "does not keep; write output: NAME") if extra[0] in ("key", "omit") else "write output: {name: NAME}"
            raise ConfigError(f"output: '{extra[0]}' is not supported yet by digpy" if extra[0] in ("key", "omit")
                              else f"output: unknown key '{extra[0]}'", location=key_location(value, extra[0]) or loc,
                              hint=hint)
        loc = value_location(value, "name") if "name" in value else loc
        value = value.get("name")
    name = value[1:] if isinstance(value, str) and value.startswith("$") else value
    if not isinstance(name, str) or not is_name(name):
        raise ConfigError("output must be a variable name such as RESULT", location=loc,
                          hint="write output: RESULT or output: {name: RESULT}")
    return name


def whole_number(value: Any, what: str, loc: Location | None, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum or value > _DURATION_MAX:
        raise ConfigError(f"{what} must be a whole number from {minimum}", location=loc)
    return value


def hms(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def is_name(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) is not None


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def located_map(values: dict[str, Any], loc: Location | None) -> ConfigMap:
    out = ConfigMap(loc)
    for key, value in values.items():
        out[key] = value
        if loc is not None:
            out.key_locs[key] = loc
            out.value_locs[key] = loc
    return out


def set_located(out: ConfigMap, key: str, value: Any, source: ConfigMap, source_key: str) -> None:
    """out[key] = value, located where `source_key` is written in `source`."""
    out[key] = value
    loc = key_location(source, source_key)
    if loc is not None:
        out.key_locs[key] = loc
        out.value_locs[key] = value_location(source, source_key) or loc

