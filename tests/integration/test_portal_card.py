"""Paying by card in the portal: the request names the card provider and has that provider's
lifetime, a retry keeps it, and a business without a card provider offers no card payment
(a forged form asking for one is refused in the customer's language, creating nothing).

The app runs in-process without the Stripe emulator: the send finds nobody at the address it
is given, so each request stays `sending` (its job would send it later)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from payrequest.db.scope import ALL, acting_for, scoped_to
from payrequest.errors import ValidationFailed
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests import apply
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import UserFlow
from payrequest.providers.stripe.provider import CAPABILITIES as CARD
from tests.conftest import TEST_ORGANISATION
from tests.integration import portal_helpers as h
from tests.integration.portal_helpers import Sessions
from tests.staff import csrf_of

# Nobody listens there: a send fails at once (and is left to its job).
NOWHERE = {"api_base": "http://127.0.0.1:9/stripe", "timeout_seconds": 0.5}


@pytest.fixture
async def portal(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    del sessions  # requested so that the tables are wiped afterwards
    async with h.portal_app(database_url, tmp_path, stripe=NOWHERE) as app_and_client:
        yield app_and_client


async def _requests(sessions: Sessions) -> list[PaymentRequest]:
    async with sessions(info=scoped_to(ALL)) as session:
        stmt = select(PaymentRequest).order_by(PaymentRequest.id)
        return list((await session.execute(stmt)).scalars())


async def test_paying_by_card_names_the_card_provider_with_its_lifetime(
    portal: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    app, http = portal
    kari = await h.customer(sessions, locale="nb", phone="")
    first = await h.invoice_with_vat(sessions, kari, number="K-1")
    second = await h.invoice_with_vat(sessions, kari, number="K-2")
    await h.sign_in(http, sessions, kari.id)
    form = await http.get(f"/portal/pay?invoice_ids={first.id}&invoice_ids={second.id}")
    assert 'value="card"' in form.text and "Betal med kort" in form.text
    chosen = await h.submit_pay(http, form.text, [first.id, second.id], method="card")
    assert chosen.status_code == 303
    (request,) = await _requests(sessions)
    # No payment page yet (the send did not get through): the payment's own page follows it.
    assert chosen.headers["location"] == f"/portal/payments/{request.reference}"
    assert (request.provider, request.user_flow, request.origin) == ("stripe", "redirect", "portal")
    assert request.amount == 2 * 111_500 and request.phone is None
    assert not request.share_phone  # no MobilePay app to share a number in
    with acting_for(TEST_ORGANISATION):
        minutes = await app.state.runtime.directory.lifetime_minutes(TEST_ORGANISATION)
    expected = Lifetime(minutes, CARD).default_for(UserFlow.redirect)
    lived = request.expires_at - request.created_at
    assert abs(lived - expected) < timedelta(seconds=5)
    assert lived <= timedelta(minutes=CARD.max_lifetime_minutes)
    page = await http.get(chosen.headers["location"])
    assert "Venter på kortbetalingen din" in page.text
    assert "Gjør klar kortbetalingen" in page.text and "Vipps" not in page.text


async def test_a_retry_of_a_card_payment_is_a_card_payment(
    portal: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    _app, http = portal
    kari = await h.customer(sessions, locale="en")
    invoice = await h.invoice_with_vat(sessions, kari, number="K-3")
    await h.sign_in(http, sessions, kari.id)
    form = await http.get(f"/portal/pay?invoice_ids={invoice.id}")
    chosen = await h.submit_pay(http, form.text, [invoice.id], method="card")
    (first,) = await _requests(sessions)
    async with sessions() as session, session.begin():
        await apply.apply_outcome(
            session,
            reference=first.reference,
            target=Status.failed,
            source="system",
            failure=apply.Failure("card_declined", "The card was declined."),
        )
    page = await http.get(chosen.headers["location"])
    assert "The card was declined." in page.text and "Try again" in page.text
    retried = await http.post(
        f"/portal/payments/{first.reference}/retry", data={"csrf": csrf_of(page.text)}
    )
    assert retried.status_code == 303
    old, new = await _requests(sessions)
    assert retried.headers["location"] == f"/portal/payments/{new.reference}"
    assert (new.provider, new.user_flow, new.retry_of_id) == ("stripe", "redirect", old.id)


async def test_the_card_providers_lifetime_goes_with_the_card_provider_only(
    sessions: Sessions,
) -> None:
    kari = await h.customer(sessions, locale="nb")
    invoice = await h.invoice_with_vat(sessions, kari, number="K-4")
    card = Lifetime(60, CARD, provider="stripe")
    async with sessions() as session, session.begin():
        with pytest.raises(ValidationFailed) as refused:  # Stripe reaches no phone
            await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=kari.id,
                    invoice_ids=[invoice.id],
                    phone="+4791234567",
                    user_flow=UserFlow.push,
                    provider="stripe",
                ),
                lifetime=card,
            )
        assert refused.value.code == "flow_not_available"
        with pytest.raises(ValueError, match="lifetime"):
            await create_request(
                session,
                data=NewPaymentRequest(
                    customer_id=kari.id,
                    invoice_ids=[invoice.id],
                    user_flow=UserFlow.redirect,
                    provider="vipps",
                ),
                lifetime=card,
            )
    assert await _requests(sessions) == []


async def test_a_business_without_a_card_provider_offers_no_card_payment(
    portal: tuple[FastAPI, httpx.AsyncClient], sessions: Sessions
) -> None:
    _app, http = portal
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        nordlys = await organisations.create(
            session, NewOrganisation(name="Nordlys Rør AS", slug="nordlys")
        )
    with acting_for(nordlys.id):
        ola = await h.customer(sessions, "Ola Hansen", "+4792345678", locale="da")
        invoice = await h.invoice_with_vat(sessions, ola, number="N-1")
        await h.sign_in(http, sessions, ola.id)
    form = await http.get(f"/portal/pay?invoice_ids={invoice.id}")
    assert form.status_code == 200
    assert 'value="card"' not in form.text and "Betal med kort" not in form.text
    forged = await h.submit_pay(http, form.text, [invoice.id], method="card")
    assert forged.status_code == 422
    assert h.alert(forged.text) == "Kortbetaling er ikke tilgængelig her"
    async with sessions(info=scoped_to(ALL)) as session:
        count = (await session.execute(select(func.count(PaymentRequest.id)))).scalar_one()
    assert count == 0
