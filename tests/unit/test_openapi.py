"""The OpenAPI document is generated from the REST model: every field of every resource is in it, with
its JSON type, and a field added to the model appears without touching the document."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from digpy.client import model
from digpy.client.model import Resource, json_field, resource
from digpy.server.api.openapi import document, schema_of
from tests.json_schema import errors

RESOURCES = [c for c in vars(model).values() if isinstance(c, type) and issubclass(c, Resource) and c is not Resource]
DOCUMENT = document()
SCHEMAS = DOCUMENT["components"]["schemas"]


def _property(schema: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for part in path:
        assert part in schema["properties"] and part in schema["required"], path
        schema = schema["properties"][part]
    return schema


@pytest.mark.parametrize("cls", RESOURCES, ids=lambda c: c.__name__)
def test_every_field_of_the_model_is_in_the_document(cls):
    assert cls.__name__ in SCHEMAS, f"{cls.__name__} is the answer of no route in ENDPOINTS"
    for f in cls.json_fields():
        schema = _property(SCHEMAS[cls.__name__], f.path)
        nullable = type(None) in typing.get_args(f.hint)
        kinds = schema.get("type") or [o.get("type") for o in schema["anyOf"]]
        assert ("null" in kinds) == nullable, (f.name, schema)
        assert f.digpy == ("description" in schema), f.name


def test_a_field_added_to_the_model_appears_in_its_schema():
    @resource
    class Widget(Resource):
        id: str = json_field("id")
        owner_name: str = json_field("owner.name")
        sizes: list[int] = json_field("sizes", default_factory=list)
        parent: model.Version | None = json_field("parent", default=None)
        colour: str | None = json_field("colour", default=None, digpy=True)

    schemas: dict[str, Any] = {}
    schema = schema_of(Widget, schemas)
    assert schema == {"type": "object", "required": ["id", "owner", "sizes", "parent", "colour"], "properties": {
        "id": {"type": "string"},
        "owner": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "sizes": {"type": "array", "items": {"type": "integer"}},
        "parent": {"anyOf": [{"$ref": "#/components/schemas/Version"}, {"type": "null"}]},
        "colour": {"type": ["string", "null"], "description": "digpy's addition: Digdag servers do not send it"},
    }}
    assert "Version" in schemas
    widget = Widget(id="1", owner_name="o", sizes=[1], parent=model.Version(version="v"))
    assert errors(widget.to_json(), schema, {"components": {"schemas": schemas}}) == []
    assert Widget.from_json(widget.to_json()) == widget


def test_the_checker_refuses_what_the_schema_does_not_allow():
    attempt = {"$ref": "#/components/schemas/Attempt"}
    sent = model.Attempt(id="1", index=1, project_id="1", project_name="p", workflow_name="wf", session_id="1",
                         session_uuid="u", session_time="2026-01-01T00:00:00+00:00").to_json()
    assert errors(sent, attempt, DOCUMENT) == []
    assert errors({**sent, "done": "yes"}, attempt, DOCUMENT) == ["$.done: 'yes' is not boolean"]
    assert errors({**sent, "status": "lost"}, attempt, DOCUMENT) == [
        "$.status: 'lost' is not one of ['queued', 'running', 'killing', 'success', 'error', 'killed']"]
    assert errors({**sent, "project": {"id": "1"}}, attempt, DOCUMENT) == ["$.project: name is missing"]
    assert errors({**sent, "extra": 1}, attempt, DOCUMENT) == ["$: extra is not in the schema"]
    assert errors({**sent, "index": True}, attempt, DOCUMENT) == ["$.index: True is not integer"]
