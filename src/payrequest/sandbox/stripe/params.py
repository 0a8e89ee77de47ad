"""Reading decoded parameters the way Stripe checks them: unknown names, missing ones,
integers, enums, metadata and `expand` (docs/stripe.md#requests)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from payrequest.sandbox.stripe.errors import bad_integer, invalid, missing, unknown

MAX_AMOUNT = 99_999_999  # eight digits
METADATA_KEYS = 50
METADATA_KEY_LENGTH = 40
METADATA_VALUE_LENGTH = 500


def only(params: dict[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    """400 `parameter_unknown` for the first name not in `allowed`."""
    names = set(allowed)
    for name in params:
        if name not in names:
            raise unknown(f"{prefix}[{name}]" if prefix else name)


def text(params: dict[str, Any], name: str, param: str | None = None) -> str | None:
    """A string parameter; None when absent or sent empty (Stripe's "unset")."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {param or name}", param or name)
    return value


def required_text(params: dict[str, Any], name: str, param: str | None = None) -> str:
    value = text(params, name, param)
    if value is None:
        raise missing(param or name)
    return value


def integer(value: Any, param: str, low: int | None = None, high: int | None = None) -> int:
    if not isinstance(value, str) or not value.lstrip("-").isdigit():
        raise bad_integer(param, value)
    number = int(value)
    if low is not None and number < low:
        raise invalid(f"This value must be greater than or equal to {low}.", param)
    if high is not None and number > high:
        raise invalid(f"This value must be less than or equal to {high}.", param)
    return number


def choice(params: dict[str, Any], name: str, allowed: Iterable[str], default: str) -> str:
    value = text(params, name)
    if value is None:
        return default
    options = list(allowed)
    if value not in options:
        raise invalid(
            f"Invalid {name}: must be one of {', '.join(options)}", name, "parameter_invalid"
        )
    return value


def metadata(params: dict[str, Any], name: str = "metadata") -> dict[str, str]:
    """`metadata[key]=value` pairs: at most 50 keys of 40 characters, values of 500."""
    value = params.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise invalid(f"Invalid object: {name}", name)
    if len(value) > METADATA_KEYS:
        raise invalid(f"Invalid {name}: at most {METADATA_KEYS} keys.", name)
    result: dict[str, str] = {}
    for key, item in value.items():
        param = f"{name}[{key}]"
        if not isinstance(item, str):
            raise invalid(f"Invalid {param}: metadata values are strings.", param)
        if len(key) > METADATA_KEY_LENGTH:
            raise invalid(f"Invalid {param}: keys are at most 40 characters.", param)
        if len(item) > METADATA_VALUE_LENGTH:
            raise invalid(f"Invalid {param}: values are at most 500 characters.", param)
        if item:
            result[key] = item
    return result


def string_list(params: dict[str, Any], name: str) -> list[str]:
    """An array parameter (`name[0]=a` or `name[]=a`) of strings; [] when absent."""
    value = params.get(name)
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else [value]
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise invalid(f"Invalid array: {name}", f"{name}[{index}]")
    return list(items)


def expansions(params: dict[str, Any]) -> list[str]:
    return string_list(params, "expand")
