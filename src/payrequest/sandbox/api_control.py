"""Emulator controls that Vipps does not have: fault switches, the clock, the delivery queue.

- `GET /faults` -> current switches; `PUT /faults` replaces them all (omitted fields reset to
  defaults); `PATCH /faults` changes only the fields given. Body: see `faults.Faults` (also
  the sales unit's situation, e.g. `{"long_living_approved": false}`).
- `GET /units` lists the sales units (MSN, market, currency, merchant name, client id, whether
  partner keys act for it, whether it is an automatic test unit, situation; automatic units
  once used); `PATCH /units/{msn}` changes one unit's situation, e.g.
  `{"push_message_approved": false}` (for the default unit the same as `PATCH /faults`).
- `POST /clock/advance` `{"seconds": 600}` jumps the emulator's clock forward.
- `GET /deliveries` lists queued/delivered webhooks (status, attempts, last result).

All of them ask the mounting app's guard first (`access`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from payrequest.sandbox.access import GUARDED
from payrequest.sandbox.faults import Faults, FaultsPatch, Situation, SituationPatch
from payrequest.sandbox.gateway import sandbox_of

router = APIRouter(tags=["sandbox controls"], dependencies=GUARDED)


class Advance(BaseModel):
    seconds: float = Field(ge=0, le=400 * 24 * 3600)


@router.get("/faults")
async def get_faults(request: Request) -> Faults:
    return sandbox_of(request).faults


@router.put("/faults")
async def put_faults(faults: Faults, request: Request) -> Faults:
    sandbox_of(request).set_faults(faults)
    return faults


@router.patch("/faults")
async def patch_faults(patch: FaultsPatch, request: Request) -> Faults:
    sb = sandbox_of(request)
    sb.set_faults(patch.apply_to(sb.faults))
    return sb.faults


@router.get("/units")
async def get_units(request: Request) -> list[dict[str, Any]]:
    sb = sandbox_of(request)
    configured = {unit.msn for unit in sb.config.units}
    return [
        {
            "msn": unit.msn,
            "market": unit.market,
            "currency": unit.currency,
            "merchantName": unit.merchant_name,
            "clientId": unit.client_id,
            "default": unit.msn == sb.config.msn,
            "auto": unit.msn not in configured,
            "partners": [k.client_id for k in sb.keys if k.partner and unit.msn in k.linked],
            "situation": sb.situation(unit.msn).model_dump(),
        }
        for unit in sb.all_units()
    ]


@router.patch("/units/{msn}")
async def patch_unit(msn: str, patch: SituationPatch, request: Request) -> Situation:
    sb = sandbox_of(request)
    if sb.find_unit(msn) is None:
        raise HTTPException(404, "No sales unit with this MSN")
    return sb.set_situation(msn, patch)


@router.post("/clock/advance")
async def advance_clock(body: Advance, request: Request) -> dict[str, str]:
    sb = sandbox_of(request)
    sb.clock.advance(body.seconds)
    sb.changed()
    return {"now": sb.clock.now().isoformat()}


@router.get("/deliveries")
async def deliveries(request: Request, reference: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "id": d.id,
            "webhookId": d.webhook_id,
            "reference": d.reference,
            "event": d.event_name,
            "status": d.status,
            "attempts": d.attempts,
        }
        for d in sandbox_of(request).store.deliveries(reference)
    ]
