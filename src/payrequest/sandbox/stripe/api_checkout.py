"""`/v1/checkout/sessions`: create, retrieve, list, line items, expire
(docs/stripe.md#checkout-sessions)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from payrequest.sandbox.stripe import listing, payments, render
from payrequest.sandbox.stripe import params as p
from payrequest.sandbox.stripe.calls import Call, answer, api_call
from payrequest.sandbox.stripe.errors import StripeApiError, no_such
from payrequest.sandbox.stripe.model import Session
from payrequest.sandbox.stripe.sessions import create_session

router = APIRouter(tags=["checkout sessions"])
ApiCall = Annotated[Call, Depends(api_call)]
LIST_FILTERS = ("status", "payment_intent", "client_reference_id")


def _session(call: Call, session_id: str) -> Session:
    session = call.account.sessions.get(session_id)
    if session is None:
        raise no_such("checkout.session", session_id)
    return session


def _shown(call: Call, session: Session) -> dict[str, Any]:
    return listing.expand(call.account, render.session(session), p.expansions(call.params))


@router.post("/v1/checkout/sessions")
async def create(call: ApiCall) -> Response:
    def make() -> dict[str, Any]:
        session = create_session(
            call.emu, call.account, call.params, call.hosted_base, call.version
        )
        return _shown(call, session)

    return answer(call, make)


@router.get("/v1/checkout/sessions")
async def list_sessions(call: ApiCall) -> Response:
    p.only(call.params, (*listing.PAGE_PARAMS, *LIST_FILTERS))
    sessions = listing.newest_first(call.account.sessions)
    for name in LIST_FILTERS:
        wanted = p.text(call.params, name)
        if wanted is not None:
            sessions = [s for s in sessions if getattr(s, name) == wanted]
    body = listing.page(
        "/v1/checkout/sessions", sessions, call.params, "checkout.session", render.session
    )
    return JSONResponse(_expanded_list(call, body))


def _expanded_list(call: Call, body: dict[str, Any]) -> dict[str, Any]:
    return listing.expand(call.account, body, p.expansions(call.params))


@router.get("/v1/checkout/sessions/{session_id}")
async def retrieve(session_id: str, call: ApiCall) -> Response:
    p.only(call.params, ("expand",))
    return JSONResponse(_shown(call, _session(call, session_id)))


@router.get("/v1/checkout/sessions/{session_id}/line_items")
async def line_items(session_id: str, call: ApiCall) -> Response:
    p.only(call.params, listing.PAGE_PARAMS)
    body = listing.line_items(call.account, session_id, call.params)
    return JSONResponse(_expanded_list(call, body))


@router.post("/v1/checkout/sessions/{session_id}/expire")
async def expire(session_id: str, call: ApiCall) -> Response:
    def make() -> dict[str, Any]:
        p.only(call.params, ("expand",))
        session = _session(call, session_id)
        if session.status != "open":
            raise StripeApiError(
                400,
                "invalid_request_error",
                'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout '
                f'Session has a status of "{session.status}".',
                stored=True,
            )
        payments.expire(call.emu, call.account, session, call.origin)
        return _shown(call, session)

    return answer(call, make)
