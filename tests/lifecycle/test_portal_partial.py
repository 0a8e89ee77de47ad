"""Paying part of an invoice from the portal, over real HTTP against the live server and its
emulator: the request asks for the part, and once paid the invoice is partly paid with the
rest still open (and payable) in the portal."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.payment_requests.models import PaymentRequest
from tests.integration import portal_helpers as h
from tests.lifecycle.conftest import Emulator, LiveServer, wait_for_status

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]


async def test_a_part_payment_leaves_the_rest_open(
    live: LiveServer, sessions: Sessions, emulator: Emulator
) -> None:
    await h.set_organisation(sessions, portal_partial_payments=True)
    kari = await h.customer(sessions, locale="en")
    invoice = await h.invoice_with_vat(sessions, kari, number="PP-1")  # 1 115.00
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as http:
        await h.sign_in(http, sessions, kari.id)
        form = await http.get(f"/portal/pay?invoice_ids={invoice.id}")
        sent = await h.submit_pay(
            http, form.text, [invoice.id], phone="912 34 567", method="push", amount="400.00"
        )
        assert sent.status_code == 303, sent.text
        reference = sent.headers["location"].rsplit("/", 1)[1]
        async with sessions() as session:
            request = (
                await session.execute(
                    select(PaymentRequest).where(PaymentRequest.reference == reference)
                )
            ).scalar_one()
        assert request.amount == 40_000

        await emulator.approve(reference)
        await wait_for_status(sessions, reference, "paid")

        done = await http.get(f"/portal/payments/{reference}/live")
        assert "Invoice PP-1: NOK\u00a0715.00 left to pay" in done.text
        home = await http.get("/portal")
        card = re.search(rf'data-invoice="{invoice.id}">(.*?)</li>', home.text, re.S)
        assert card and "NOK\u00a0715.00" in card.group(1) and "Partly paid" in card.group(1)
        assert f"/portal/pay?invoice_ids={invoice.id}" in card.group(1)
