"""Rendering pages and fragments with Jinja2, in the request's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from payrequest.organisations.read import Choice
from payrequest.web import i18n, labels
from payrequest.web.auth import csrf_token
from payrequest.web.flash import pop_flashes
from payrequest.web.once import once_token

TEMPLATES = Path(__file__).parent / "templates"
environment = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=True, extensions=["jinja2.ext.i18n"]
)
environment.install_gettext_callables(  # type: ignore[attr-defined]
    gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
)
templates = Jinja2Templates(env=environment)
templates.env.filters.update(
    money=i18n.money,
    day=i18n.day,
    moment=i18n.moment,
    phone=i18n.phone,
    percent=i18n.percent,
    t=i18n.translate,
)
templates.env.filters["label"] = labels.label  # a stored code in words: origin | label("origin")
templates.env.filters["flow_name"] = labels.flow_name
templates.env.globals["time_trigger"] = labels.time_trigger
templates.env.globals.update(languages=i18n.LANGUAGES, once_token=once_token)


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("csrf_token", csrf_token(request))
    context.setdefault("user", getattr(request.state, "user", None))
    choices = organisation_choices(request)
    context.setdefault("organisations", choices)
    context.setdefault("organisation", _current(choices, context["user"]))
    context.setdefault("customer", getattr(request.state, "customer", None))
    # the portal's business, once the customer or the receipt link is known
    context.setdefault("business", getattr(request.state, "business", None))
    context.setdefault("language", i18n.current_language())
    context.setdefault("flashes", pop_flashes(request))
    tail = getattr(request.app.state, "tail", None)
    context.setdefault("live_since", tail.last_id if tail is not None else 0)
    response: HTMLResponse = templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
    return response


def organisation_choices(request: Request) -> list[Choice]:
    """The organisations the signed-in person works in (web.auth reads them with the sign-in:
    `request.state.organisations`); the header names the current one and, when there are
    more, offers to switch."""
    found = getattr(request.state, "organisations", None)
    return [choice for choice in found if isinstance(choice, Choice)] if found else []


def _current(choices: list[Choice], user: object) -> Choice | None:
    working_in = getattr(user, "organisation_id", None)
    return next((choice for choice in choices if choice.id == working_in), None)
