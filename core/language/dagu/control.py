"""A Dagu step's `preconditions`, `continueOn`, `retryPolicy` and `repeatPolicy`, read into the
engine's `_precondition`, `_continue_on`, `_retry` and `_repeat` (digpy.core.workflow.control,
digpy.core.workflow.retry)."""

from __future__ import annotations

from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.dagu.common import as_text
from digpy.core.language.dagu.schema import normalized
from digpy.core.language.dagu.variables import Scope, for_shell, literal, shell_double
from digpy.core.workflow.control import parse_continue_on, parse_repeat
from digpy.core.workflow.located import key_location
from digpy.core.workflow.retry import parse_retry


def _renamed(value: Any, what: str, names: dict[str, str], loc: Location | None) -> list[tuple[str, Any, Location | None]]:
    """(digpy's name, value, where its key is) of each key of `value`: either spelling of a Dagu key
    (`exitCode`, `exit_code`), checked by schema.normalized (unknown keys, a key given twice);
    `names` maps Dagu's camelCase names to digpy's."""
    read = normalized(value, what, tuple(names), (), loc)
    return [(names[key], item, key_location(read, key) or loc) for key, item in read.items()]


def read_preconditions(value: Any, loc: Location | None, scope: Scope, prelude: str) -> list[dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, str):
            out.append({"command": prelude + for_shell(item, scope, loc)})
            continue
        if not isinstance(item, dict):
            raise ConfigError("a precondition is a command or {condition, expected}", location=loc)
        extra = [k for k in item if k not in ("condition", "command", "expected", "negate")]
        if extra:
            raise ConfigError(f"precondition: unknown key '{extra[0]}'", location=key_location(item, extra[0]) or loc,
                              hint="a precondition has condition (or command), expected and negate")
        if "condition" in item and "command" in item:  # Dagu: two names of one key
            raise ConfigError("a precondition has both condition and command (two names of one key)",
                              location=key_location(item, "command") or loc)
        condition = item.get("condition", item.get("command"))
        if not isinstance(condition, str | int | float) or isinstance(condition, bool):
            raise ConfigError("a precondition needs a condition (a text)", location=loc)
        negate = item.get("negate", False)
        if not isinstance(negate, bool):
            raise ConfigError("precondition negate must be true or false", location=key_location(item, "negate") or loc)
        expected = item.get("expected")
        if expected is None:
            read = {"command": prelude + for_shell(str(condition), scope, loc)}
        else:
            word = for_shell(shell_double(str(condition)), scope, loc)
            read = {"command": f"{prelude}printf '%s' {word}", "expected": literal(as_text(expected))}
        out.append({**read, "negate": True} if negate else read)
    return out


def read_continue_on(value: Any, loc: Location | None) -> dict[str, Any]:
    if value in ("skipped", "failed", "failure"):
        return {"if_skipped": True} if value == "skipped" else {"failure": True}
    if not isinstance(value, dict):
        raise ConfigError("continueOn must be skipped, failed, or {failure, skipped, exitCode, output, markSuccess}",
                          location=loc)
    out: dict[str, Any] = {}
    # Dagu's `skipped` is said of the step that is skipped: the steps after it still run (if_skipped)
    names = {"failure": "failure", "failed": "failure", "skipped": "if_skipped", "exitCode": "exit_code",
             "output": "output", "markSuccess": "mark_success"}
    for name, item, _where in _renamed(value, "continueOn", names, loc):
        if name == "output" and isinstance(item, str | list):
            item = [literal(str(o)) for o in (item if isinstance(item, list) else [item])]
        out[name] = item

    parse_continue_on(out, loc)
    return out


def read_retry(value: Any, loc: Location | None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("retryPolicy must be a mapping such as {limit: 3, intervalSec: 10}", location=loc)
    names = {"limit": "limit", "intervalSec": "interval", "backoff": "backoff", "maxIntervalSec": "max_interval",
             "exitCode": "exit_code"}
    out: dict[str, Any] = {}
    for name, item, where in _renamed(value, "retryPolicy", names, loc):
        if name == "backoff":
            if item is True:
                out["backoff"] = 2
            elif isinstance(item, int | float) and not isinstance(item, bool) and item > 1:
                out["backoff"] = item
            elif item not in (False, None):
                raise ConfigError(f"retryPolicy backoff must be true (doubling) or a factor above 1, not {item!r}",
                                  location=where, hint="write backoff: true or backoff: 1.5")
            continue
        out[name] = item
    if "limit" not in out:
        raise ConfigError("retryPolicy needs limit", location=loc)

    parse_retry(out, loc)
    return out



def read_repeat(value: Any, loc: Location | None, scope: Scope, prelude: str) -> dict[str, Any]:
    """`repeatPolicy` → `_repeat`: `repeat: true|while|until`, `condition` (with `expected`, or a
    command that holds when it exits 0), `exitCode`, `intervalSec`, `backoff`, `maxIntervalSec`, `limit`."""
    if not isinstance(value, dict):
        raise ConfigError("repeatPolicy must be a mapping such as {repeat: until, condition: ..., intervalSec: 10}",
                          location=loc)
    names = {"repeat": "repeat", "condition": "condition", "expected": "expected", "exitCode": "exit_code",
             "intervalSec": "interval", "limit": "limit", "backoff": "backoff", "maxIntervalSec": "max_interval"}
    read = {name: item for name, item, _where in _renamed(value, "repeatPolicy", names, loc)}
    mode = read.pop("repeat", True)
    condition, expected = read.pop("condition", None), read.pop("expected", None)
    out: dict[str, Any] = {}
    if condition is not None:
        if expected is None:
            out["condition"] = [{"command": prelude + for_shell(as_text(condition), scope, loc)}]
        else:
            word = for_shell(shell_double(as_text(condition)), scope, loc)
            out["condition"] = [{"command": f"{prelude}printf '%s' {word}", "expected": literal(as_text(expected))}]
    if "exit_code" in read:
        out["exit_code"] = read.pop("exit_code")
    if mode in ("while", "until"):
        out["mode"] = mode
    elif mode is True:
        out["mode"] = "while" if ("condition" in out or "exit_code" in out) else "always"
    else:
        raise ConfigError(f"repeatPolicy repeat must be true, while or until, not {mode!r}", location=loc)
    backoff = read.pop("backoff", None)
    if backoff is True:
        out["backoff"] = 2
    elif backoff not in (None, False):
        out["backoff"] = backoff
    out.update(read)
    parse_repeat(out, loc)
    return out
