"""`/v1/payment_intents` (retrieve, list, cancel) and `/v1/refunds` (create, retrieve, list)
(docs/stripe.md#refunds)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from payrequest.sandbox.stripe import listing, render
from payrequest.sandbox.stripe import params as p
from payrequest.sandbox.stripe.calls import Call, answer, api_call
from payrequest.sandbox.stripe.errors import no_such
from payrequest.sandbox.stripe.model import PaymentIntent
from payrequest.sandbox.stripe.refunds import cancel_intent, create_refund

router = APIRouter(tags=["payment intents and refunds"])
ApiCall = Annotated[Call, Depends(api_call)]


def _intent(call: Call, intent_id: str) -> PaymentIntent:
    intent = call.account.intents.get(intent_id)
    if intent is None:
        raise no_such("payment_intent", intent_id, "intent")
    return intent


def _expanded(call: Call, obj: dict[str, Any]) -> dict[str, Any]:
    return listing.expand(call.account, obj, p.expansions(call.params))


@router.get("/v1/payment_intents")
async def list_intents(call: ApiCall) -> Response:
    p.only(call.params, listing.PAGE_PARAMS)
    intents = listing.newest_first(call.account.intents)
    body = listing.page(
        "/v1/payment_intents", intents, call.params, "payment_intent", render.payment_intent
    )
    return JSONResponse(_expanded(call, body))


@router.get("/v1/payment_intents/{intent_id}")
async def retrieve_intent(intent_id: str, call: ApiCall) -> Response:
    p.only(call.params, ("expand", "client_secret"))
    return JSONResponse(_expanded(call, render.payment_intent(_intent(call, intent_id))))


@router.post("/v1/payment_intents/{intent_id}/cancel")
async def cancel(intent_id: str, call: ApiCall) -> Response:
    def make() -> dict[str, Any]:
        intent = cancel_intent(call.account, _intent(call, intent_id), call.params)
        return _expanded(call, render.payment_intent(intent))

    return answer(call, make)


@router.post("/v1/refunds")
async def create(call: ApiCall) -> Response:
    def make() -> dict[str, Any]:
        refund = create_refund(call.emu, call.account, call.params, call.origin)
        return _expanded(call, render.refund(refund))

    return answer(call, make)


@router.get("/v1/refunds")
async def list_refunds(call: ApiCall) -> Response:
    p.only(call.params, (*listing.PAGE_PARAMS, "payment_intent", "charge"))
    refunds = listing.newest_first(call.account.refunds)
    for name in ("payment_intent", "charge"):
        wanted = p.text(call.params, name)
        if wanted is not None:
            refunds = [r for r in refunds if getattr(r, name) == wanted]
    body = listing.page("/v1/refunds", refunds, call.params, "refund", render.refund)
    return JSONResponse(_expanded(call, body))


@router.get("/v1/refunds/{refund_id}")
async def retrieve_refund(refund_id: str, call: ApiCall) -> Response:
    p.only(call.params, ("expand",))
    refund = call.account.refunds.get(refund_id)
    if refund is None:
        raise no_such("refund", refund_id)
    return JSONResponse(_expanded(call, render.refund(refund)))
