"""Controls Stripe does not have, for tests and demos (docs/stripe.md#the-control-api):

- `GET /control/faults` -> the switches; `PUT` replaces them all; `PATCH` changes the fields
  given (`faults.StripeFaults`).
- `POST /control/clock/advance` `{"seconds": 3600}` moves the clock forward (due sessions
  expire at the next sweep).
- `GET /control/deliveries` -> webhook deliveries (event, type, endpoint, status, attempts,
  last result), optionally `?event=evt_...`.
- `GET /control/accounts` -> the accounts (masked key, id, webhook endpoints with secrets).

All of them ask the mounting app's guard first (`payrequest.sandbox.access`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from payrequest.sandbox.access import GUARDED
from payrequest.sandbox.stripe.calls import stripe_of
from payrequest.sandbox.stripe.errors import masked
from payrequest.sandbox.stripe.faults import StripeFaults, StripeFaultsPatch

router = APIRouter(prefix="/control", tags=["emulator controls"], dependencies=GUARDED)


class Advance(BaseModel):
    seconds: float = Field(ge=0, le=400 * 24 * 3600)


@router.get("/faults")
async def get_faults(request: Request) -> StripeFaults:
    return stripe_of(request).faults


@router.put("/faults")
async def put_faults(faults: StripeFaults, request: Request) -> StripeFaults:
    stripe_of(request).set_faults(faults)
    return faults


@router.patch("/faults")
async def patch_faults(patch: StripeFaultsPatch, request: Request) -> StripeFaults:
    emu = stripe_of(request)
    emu.set_faults(patch.apply_to(emu.faults))
    return emu.faults


@router.post("/clock/advance")
async def advance_clock(body: Advance, request: Request) -> dict[str, Any]:
    emu = stripe_of(request)
    emu.clock.advance(body.seconds)
    return {"now": emu.timestamp()}


@router.get("/deliveries")
async def deliveries(request: Request, event: str | None = None) -> list[dict[str, Any]]:
    emu = stripe_of(request)
    types = {
        event_id: ev.type
        for account in emu.accounts.values()
        for event_id, ev in account.events.items()
    }
    return [
        {
            "id": d.id,
            "event": d.event_id,
            "type": types.get(d.event_id),
            "endpoint": d.endpoint_id,
            "status": d.status,
            "attempts": d.attempts,
            "last_result": d.last_result,
        }
        for d in emu.deliverer.deliveries
        if event is None or d.event_id == event
    ]


@router.get("/accounts")
async def accounts(request: Request) -> list[dict[str, Any]]:
    emu = stripe_of(request)
    return [
        {
            "key": masked(account.key),
            "id": account.id,
            "webhook_endpoints": [
                {"id": we.id, "url": we.url, "secret": we.secret, "status": we.status}
                for we in account.endpoints.values()
            ],
        }
        for account in emu.accounts.values()
    ]
