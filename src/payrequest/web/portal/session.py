"""The portal session: one customer, chosen by a redeemed magic link. The signed cookie holds
the token of a sign-in session kept on the server (`payrequest.sessions`), trusted only while
that session is alive, so signing out ends every copy of the cookie. Every portal query is
scoped to this customer; another customer's ids answer 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from payrequest.customers.models import Customer
from payrequest.portal import service as portal
from payrequest.web import i18n
from payrequest.web.auth import check_form_csrf
from payrequest.web.deps import RuntimeDep

SESSION_PORTAL = "portal_session"  # the token of the server-side sign-in session
SESSION_LANGUAGE = "portal_language"


def portal_language(request: Request, customer: Customer | None, *, default: str = "nb") -> str:
    """The language chosen on a portal page, else the customer's own, else `default`."""
    chosen = request.session.get(SESSION_LANGUAGE)
    if isinstance(chosen, str) and chosen in i18n.LANGUAGES:
        return chosen
    return customer.locale if customer is not None else default


async def current_customer(request: Request, runtime: RuntimeDep) -> Customer | None:
    token = request.session.get(SESSION_PORTAL)
    if not isinstance(token, str):
        return None
    async with runtime.read_sessions() as session:
        customer = await portal.signed_in_customer(session, token=token)
    if customer is None:  # signed out, expired, or portal access switched off
        request.session.pop(SESSION_PORTAL, None)
        return None
    return customer


async def require_customer(request: Request, runtime: RuntimeDep) -> Customer:
    customer = await current_customer(request, runtime)
    if customer is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": "/portal/start"})
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
