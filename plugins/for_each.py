"""`for_each>: {key: [values], ...}` runs `_do` once per combination of the values.

The first key varies slowest. Each child exports its combination; children are named like
Digdag's: `+for-0=fruit=0=apple&1=verb=1=eat` (key and value cut to 8 characters, URL-encoded).
The mapping, and each list, may also be given as a JSON string.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any
from urllib.parse import quote

from digpy.core.spi import ConfigError, OperatorContext, TaskResult, hookimpl, json_or_value, mapping
from digpy.plugins.generated import body, check_count, children, parallel


class ForEachOperator:
    name = "for_each"

    async def run(self, ctx: OperatorContext) -> TaskResult:
        entries = mapping(ctx.command, "for_each", "a mapping of keys to lists")
        lists = {key: _list(key, values) for key, values in entries.items()}
        do = body(ctx.params, "_do", "for_each")
        keys = list(lists)
        if not keys:  # no keys: no combinations (Digdag builds none either)
            return TaskResult(subtasks=children(do, [], parallel(ctx.params, "for_each")))
        check_count(math.prod(len(v) for v in lists.values()), "for_each")
        indexed = [list(enumerate(lists[k])) for k in keys]
        items = []
        for combination in itertools.product(*indexed):
            name = "+for-" + "&".join(
                f"{k_index}={_tag(key)}={v_index}={_tag(value)}"
                for k_index, (key, (v_index, value)) in enumerate(zip(keys, combination, strict=True))
            )
            items.append((name, {key: value for key, (_i, value) in zip(keys, combination, strict=True)}))
        return TaskResult(subtasks=children(do, items, parallel(ctx.params, "for_each")))


def _list(key: str, value: Any) -> list[Any]:
    value = json_or_value(value)
    if not isinstance(value, list):
        raise ConfigError(f"for_each> values of '{key}' must be a list, got {value!r}")
    return value


def _tag(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    # Like Java's URLEncoder: "*" and "~" are encoded too (they are not allowed in task names);
    # Python's quote() never encodes "~".
    return quote(text[:8], safe="").replace("~", "%7E")


@hookimpl
def digpy_register_operators() -> list[type]:
    return [ForEachOperator]
