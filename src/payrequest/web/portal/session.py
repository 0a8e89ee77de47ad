"""The portal session: one customer, chosen by a redeemed magic link. The signed cookie holds
the token of a sign-in session kept on the server (`payrequest.sessions`), trusted only while
that session is alive, so signing out ends every copy of the cookie. Every portal query is
scoped to this customer; another customer's ids answer 404.

The sign-in session is read by its token before the business is known (a session scoped to
`ALL`, for that one lookup); from then on the request acts for the customer's organisation
(db.scope), so no query of the request can reach another business's rows.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request, status

from payrequest.customers.models import Customer
from payrequest.db.scope import ALL, enter, scoped_to
from payrequest.portal import service as portal
from payrequest.web import i18n
from payrequest.web.auth import check_form_csrf
from payrequest.web.deps import RuntimeDep

SESSION_PORTAL = "portal_session"  # the token of the server-side sign-in session
SESSION_LANGUAGE = "portal_language"
# The slug of the organisation whose portal the browser last signed in to: where to ask for
# a new link once that session has ended.
SESSION_ORGANISATION = "portal_organisation"


def portal_language(request: Request, customer: Customer | None, *, default: str = "nb") -> str:
    """The language chosen on a portal page, else the customer's own, else `default`."""
    chosen = request.session.get(SESSION_LANGUAGE)
    if isinstance(chosen, str) and chosen in i18n.LANGUAGES:
        return chosen
    return customer.locale if customer is not None else default


def start_url(slug: str | None) -> str:
    """The start page (ask for a link) of the organisation `slug` names; without one, the
    installation's first organisation's."""
    return "/portal/start" + (f"?{urlencode({'org': slug})}" if slug else "")


def remembered_start_url(request: Request) -> str:
    """The start page of the organisation this browser last signed in to, if any."""
    slug = request.session.get(SESSION_ORGANISATION)
    return start_url(slug if isinstance(slug, str) else None)


async def current_customer(request: Request, runtime: RuntimeDep) -> Customer | None:
    """The signed-in customer, or None; from here on the request acts for the customer's
    organisation (db.scope), whose portal settings and look are `business(request)`."""
    token = request.session.get(SESSION_PORTAL)
    if not isinstance(token, str):
        return None
    async with runtime.read_sessions(info=scoped_to(ALL)) as session:
        customer = await portal.signed_in_customer(session, token=token)
        if customer is not None:
            request.state.business = await portal.business_of(session, customer.organisation_id)
    if customer is None:  # signed out, expired, or portal access switched off
        request.session.pop(SESSION_PORTAL, None)
        return None
    enter(customer.organisation_id)
    return customer


def business(request: Request) -> portal.Business | None:
    """The business whose portal this request shows (known once the customer or the
    receipt link is), for its settings and its look; None: not known (the start page)."""
    found = getattr(request.state, "business", None)
    return found if isinstance(found, portal.Business) else None


def partial_payments(request: Request) -> bool:
    """Whether the customer's business lets them pay part of what is open."""
    found = business(request)
    return found is not None and found.partial_payments


async def require_customer(request: Request, runtime: RuntimeDep) -> Customer:
    customer = await current_customer(request, runtime)
    if customer is None:
        raise HTTPException(
            status.HTTP_303_SEE_OTHER, headers={"Location": remembered_start_url(request)}
        )
    request.state.customer = customer
    i18n.set_language(portal_language(request, customer))
    return customer


async def require_customer_action(
    request: Request, customer: Annotated[Customer, Depends(require_customer)]
) -> Customer:
    """A portal customer, on a request with a valid CSRF token."""
    await check_form_csrf(request)
    return customer


PortalCustomer = Annotated[Customer, Depends(require_customer)]
PortalAction = Annotated[Customer, Depends(require_customer_action)]
