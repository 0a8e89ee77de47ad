"""Paying part of the open amount in the portal, when the business allows it
(`portal_partial_payments`, in Settings → Organisation): the pay form offers an amount, and
an amount that is not a number, not more than zero or more than what is open is refused in
the customer's language with nothing created."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from payrequest.payment_requests.models import PaymentRequest
from tests.integration import portal_helpers as h
from tests.integration.portal_helpers import Sessions


@pytest.fixture
async def partial(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the portal of a business that allows part payments."""
    await h.set_organisation(sessions, portal_partial_payments=True)
    async with h.portal_app(database_url, tmp_path) as (
        _app,
        http,
    ):
        yield http


async def _requests(sessions: Sessions) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count(PaymentRequest.id)))).scalar_one())


async def test_without_the_setting_the_pay_form_asks_for_everything_that_is_open(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    async with h.portal_app(database_url, tmp_path) as (_app, http):
        kari = await h.customer(sessions, locale="en")
        invoice = await h.invoice_with_vat(sessions, kari, number="P-0")
        await h.sign_in(http, sessions, kari.id)
        form = await http.get(f"/portal/pay?invoice_ids={invoice.id}")
        assert 'name="amount"' not in form.text
        refused = await h.submit_pay(http, form.text, [invoice.id], method="qr", amount="100")
        assert refused.status_code == 422
        assert h.alert(refused.text) == "Pay the whole amount, NOK\u00a01,115.00"
        assert await _requests(sessions) == 0


async def test_the_pay_form_offers_an_amount_filled_in_with_what_is_open(
    partial: httpx.AsyncClient, sessions: Sessions
) -> None:
    kari = await h.customer(sessions, locale="nb")
    first = await h.invoice_with_vat(sessions, kari, number="P-1")
    second = await h.invoice_with_vat(sessions, kari, number="P-2")
    await h.sign_in(partial, sessions, kari.id)
    form = await partial.get(f"/portal/pay?invoice_ids={first.id}&invoice_ids={second.id}")
    field = re.search(r'<input id="amount" name="amount"[^>]*value="([^"]*)"', form.text)
    assert field and field.group(1) == "2230,00"  # as a Norwegian types it
    assert "minst 1,00\u00a0kr" in form.text


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("0", "Skriv inn et beløp over null"),
        ("-5", "Skriv inn et beløp over null"),
        ("1115,01", "Du kan betale høyst 1\u00a0115,00\u00a0kr"),
        ("0,50", "En delbetaling må være minst 1,00\u00a0kr"),
        ("abc", "«abc» er ikke et beløp"),
    ],
)
async def test_an_amount_out_of_bounds_is_refused_in_the_customers_language(
    partial: httpx.AsyncClient, sessions: Sessions, typed: str, error: str
) -> None:
    kari = await h.customer(sessions, locale="nb")
    invoice = await h.invoice_with_vat(sessions, kari, number="P-3")
    await h.sign_in(partial, sessions, kari.id)
    form = await partial.get(f"/portal/pay?invoice_ids={invoice.id}")
    refused = await h.submit_pay(partial, form.text, [invoice.id], method="qr", amount=typed)
    assert refused.status_code == 422
    assert error in h.alert(refused.text)
    assert f'value="{typed}"' in refused.text  # what they typed is kept to correct
    assert await _requests(sessions) == 0
