"""The syntax of every `${...}` in a loaded workflow file, checked without evaluating anything.

Expressions are evaluated when their task runs (as in Digdag); this finds the ones that can never
compile beforehand, each with the location of the value that holds it. `digpy check` rejects them;
`digpy run` warns, and the task fails when it evaluates the expression.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from digpy.core.errors import ConfigError, Location
from digpy.core.language.expression.template import TemplateEngine
from digpy.core.workflow.located import value_location

# Top-level keys whose values are never evaluated.
_NOT_TEMPLATES = ("timezone", "schedule")
_SHOWN = 60  # characters of a long expression shown in a message

_engine: TemplateEngine | None = None


def check_expressions(config: Mapping[str, Any]) -> tuple[list[ConfigError], bool]:
    """A located error for each `${...}` of a loaded workflow config that does not compile, and
    whether any `${...}` needs JavaScript (is more than a plain reference such as `${a.b}`)."""
    global _engine
    if _engine is None:
        _engine = TemplateEngine()
    engine = _engine
    found: list[ConfigError] = []
    javascript = False

    def walk(value: Any, location: Location | None) -> None:
        nonlocal javascript
        if isinstance(value, str):
            if "${" in value:
                javascript = javascript or engine.needs_javascript(value)
                for text, reason in engine.syntax_errors(value):
                    shown = text if len(text) <= _SHOWN else text[: _SHOWN - 4] + "...}"
                    found.append(ConfigError(f"{shown} is not a valid expression ({reason})", location=location))
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if not (isinstance(key, str) and key.startswith("!")):
                    walk(item, value_location(value, key) or location)
        elif isinstance(value, list):
            places = getattr(value, "item_locs", [])
            for index, item in enumerate(value):
                walk(item, places[index] if index < len(places) else location)

    for key, value in config.items():
        if key not in _NOT_TEMPLATES:
            walk(value, value_location(config, key))
    return found, javascript


__all__ = ["check_expressions"]
