"""A small JSON Schema checker for the subset digpy's OpenAPI document uses: `$ref` (into the document),
`type` (one or a list), `properties`, `required`, `items`, `enum`, `anyOf`. With `strict`, an object
may not have keys its schema does not name (the server sends what the model says, nothing more)."""

from __future__ import annotations

from typing import Any

TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
                                      "integer": (int,), "number": (int, float), "null": (type(None),)}


def errors(value: Any, schema: dict[str, Any], document: dict[str, Any], *, strict: bool = True,
           where: str = "$") -> list[str]:
    """What is wrong with `value` against `schema` (empty: it validates), one line each, with its path."""
    if "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return errors(value, target, document, strict=strict, where=where)
    if "anyOf" in schema:
        found = [errors(value, option, document, strict=strict, where=where) for option in schema["anyOf"]]
        return [] if any(not f for f in found) else [f"{where}: matches none of anyOf ({found})"]
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if not any(isinstance(value, TYPES[k]) and not (k in ("integer", "number") and isinstance(value, bool))
                   for k in kinds):
            return [f"{where}: {value!r} is not {' or '.join(kinds)}"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} is not one of {schema['enum']}"]
    found: list[str] = []
    if isinstance(value, dict) and "properties" in schema:
        found += [f"{where}: {key} is missing" for key in schema.get("required", []) if key not in value]
        if strict:
            found += [f"{where}: {key} is not in the schema" for key in value if key not in schema["properties"]]
        for key, item in schema["properties"].items():
            if key in value:
                found += errors(value[key], item, document, strict=strict, where=f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            found += errors(item, schema["items"], document, strict=strict, where=f"{where}[{i}]")
    return found
