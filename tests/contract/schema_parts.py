"""Building blocks for the JSON Schemas of the wire description (vipps_wire.py)."""

from __future__ import annotations

from typing import Any

import jsonschema

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def closed(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Schema:
    """An object with all of `required`, any of `optional` and nothing else."""
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


def text(pattern: str | None = None, *, least: int = 1, most: int | None = None) -> Schema:
    schema: Schema = {"type": "string", "minLength": least}
    if pattern is not None:
        schema["pattern"] = pattern
    if most is not None:
        schema["maxLength"] = most
    return schema


def whole(least: int | None = None, most: int | None = None) -> Schema:
    schema: Schema = {"type": "integer"}
    if least is not None:
        schema["minimum"] = least
    if most is not None:
        schema["maximum"] = most
    return schema


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def when(field: str, value: Any, then: Schema) -> Schema:
    """`then` applies to objects whose `field` equals `value`."""
    return {"if": {"properties": {field: {"const": value}}, "required": [field]}, "then": then}


def _is_integer(_: object, instance: object) -> bool:
    """An integer is an int on the wire: `499.0` is not one (JSON Schema would say it is)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)
