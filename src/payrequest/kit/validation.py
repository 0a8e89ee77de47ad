"""pydantic's validation errors as our own: one `ValidationFailed` a person can read.

pydantic's messages are English prose; this maps the first error's *type* to a message
template of ours (translated where it is shown) naming the field by its label.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from payrequest.errors import N_, Msg, ValidationFailed

_TEMPLATES = {
    "missing": N_("%(field_label)s is required"),
    "string_too_short": N_("%(field_label)s is required"),
    "too_short": N_("%(field_label)s is required"),
    "string_too_long": N_("%(field_label)s can be at most %(limit)s characters"),
    "too_long": N_("%(field_label)s has too many entries"),
    "string_pattern_mismatch": N_("%(field_label)s has a value that is not allowed"),
    "literal_error": N_("%(field_label)s has a value that is not allowed"),
    "enum": N_("%(field_label)s has a value that is not allowed"),
    "int_parsing": N_("%(field_label)s must be a whole number"),
    "int_type": N_("%(field_label)s must be a whole number"),
    "greater_than": N_("%(field_label)s must be more than %(limit)s"),
    "greater_than_equal": N_("%(field_label)s must be at least %(limit)s"),
    "less_than": N_("%(field_label)s must be less than %(limit)s"),
    "less_than_equal": N_("%(field_label)s must be at most %(limit)s"),
    "date_parsing": N_("%(field_label)s must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("%(field_label)s must be a date (YYYY-MM-DD)"),
    "decimal_parsing": N_("%(field_label)s must be a number"),
    "bool_parsing": N_("%(field_label)s must be yes or no"),
}
_FALLBACK = N_("%(field_label)s is not valid")
_LIMITS = ("max_length", "min_length", "gt", "ge", "lt", "le", "limit_value")


def from_pydantic(exc: ValidationError, labels: Mapping[str, str]) -> ValidationFailed:
    """The first error of `exc`, the field named by `labels[field]` (an English msgid)."""
    first = exc.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    label = labels.get(name, name.replace("_", " ").capitalize() or N_("A value"))
    context = first.get("ctx") or {}
    limit = next((context[key] for key in _LIMITS if key in context), "")
    template = _TEMPLATES.get(first["type"], _FALLBACK)
    return ValidationFailed(template, field=name or None, field_label=Msg(label), limit=str(limit))
