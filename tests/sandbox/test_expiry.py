"""Expiry: the 10-minute standard window, long-living expiresAt, the fast clock, the sweeper."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.helpers import RECEIPT, Api, error_code, new_reference


async def test_standard_payment_expires_after_ten_minutes(api: Api, sb: Sandbox) -> None:
    reference = new_reference()
    await api.create(reference)
    await api.advance(sb, 9 * 60)
    assert (await api.get(reference)).json()["state"] == "CREATED"
    await api.advance(sb, 61)
    assert (await api.get(reference)).json()["state"] == "EXPIRED"
    names = [e["name"] for e in (await api.events(reference)).json()]
    assert names == ["CREATED", "EXPIRED"]
    assert error_code(await api.approve(reference)) == "10010"
    assert error_code(await api.modify("cancel", reference)) == "6050"


async def test_long_living_payment_lives_until_expires_at(api: Api, sb: Sandbox) -> None:
    reference = new_reference()
    expires = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    await api.create(reference, expiresAt=expires, receipt=RECEIPT)
    await api.advance(sb, 4 * 3600)
    assert (await api.get(reference)).json()["state"] == "CREATED"
    await api.advance(sb, 3600 + 5)
    assert (await api.get(reference)).json()["state"] == "EXPIRED"


async def test_fast_clock_expires_in_real_seconds_via_sweeper(api: Api, sb: Sandbox) -> None:
    sb.set_faults(sb.faults.model_copy(update={"clock_speed": 3000.0}))  # 10 min -> 0.2 s
    await sb.start()
    reference = new_reference()
    await api.create(reference)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        payment = sb.store.payment(sb.config.msn, reference)
        assert payment is not None
        if payment.state == "EXPIRED":
            break
        await asyncio.sleep(0.02)
    payment = sb.store.payment(sb.config.msn, reference)
    assert payment is not None and payment.state == "EXPIRED"  # the sweeper did it, no GET
    assert [e.name for e in sb.store.events(sb.config.msn, reference)] == ["CREATED", "EXPIRED"]


async def test_unknown_result_amount_expires_after_an_hour(api: Api, sb: Sandbox) -> None:
    reference = new_reference()
    await api.create(reference, amount={"currency": "NOK", "value": 201})
    await api.approve(reference)
    await api.advance(sb, 30 * 60)
    assert (await api.get(reference)).json()["state"] == "CREATED"
    await api.advance(sb, 31 * 60)
    assert (await api.get(reference)).json()["state"] == "EXPIRED"
