"""Message templates: a sandboxed Jinja2 environment, strict about unknown variables.

The only module of `automations` that imports jinja2 (see the import-linter contract in
pyproject.toml). Templates are written by staff, so they run in `ImmutableSandboxedEnvironment`
(no attribute access to internals, no mutation) with `StrictUndefined` (a misspelt variable is an
error, not an empty string). HTML email bodies are autoescaped; SMS and text bodies are not.
A template is validated when the flow is saved by rendering it against a sample context with
every variable the action will have at run time.
"""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from payrequest.errors import ValidationFailed

__all__ = ["TemplateError", "check", "render"]

MAX_TEMPLATE = 5000

_text = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def render(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    """Render or raise TemplateError (syntax, unknown variable, sandbox violation)."""
    environment = _html if html else _text
    return environment.from_string(source).render(context)


def check(source: str, sample: dict[str, Any], *, field: str, html: bool = False) -> None:
    """Refuse a template that does not compile or uses an unknown variable."""
    if len(source) > MAX_TEMPLATE:
        raise ValidationFailed("At most %(most)s characters", field=field, most=MAX_TEMPLATE)
    try:
        render(source, sample, html=html)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        detail = str(exc.message or exc)
        if line:
            raise ValidationFailed(
                "Template error (line %(line)s): %(detail)s", field=field, line=line, detail=detail
            ) from None
        raise ValidationFailed("Template error: %(detail)s", field=field, detail=detail) from None
    except Exception as exc:  # a filter raising on sample data, e.g. a bad format spec
        raise ValidationFailed("Template error: %(detail)s", field=field, detail=str(exc)) from None
