"""Phone-number sharing over real HTTP: our provider asks the emulator for the `phoneNumber`
scope, the payer consents on the phone page, and reading the payment (as capture and the
poller do) brings the number from the Userinfo API. A staff QR request for a customer without
a number ends with the number suggested on the customer; from the portal, it is kept directly
when the customer ticked "save my number"."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers.models import Customer
from payrequest.kit.money import Money
from payrequest.payment_requests import repository
from payrequest.payment_requests.models import PaymentRequest
from payrequest.providers.base import CreatePayment, ProviderState, UserFlow
from payrequest.providers.vipps.provider import VippsProvider
from tests.factories import make_customer, make_invoice
from tests.integration.portal_helpers import sign_in, submit_pay
from tests.lifecycle.conftest import (
    SANDBOX,
    Emulator,
    LiveServer,
    send_request,
    wait_for_status,
    wait_until,
)

Sessions = async_sessionmaker[AsyncSession]
MSISDN = "4791834562"


def _qr(reference: str, *, share_phone: bool = True) -> CreatePayment:
    return CreatePayment(
        reference=reference,
        amount=Money(25_000, "NOK"),
        description="Invoice 1001, due 1 Dec 2026",
        user_flow=UserFlow.qr,
        idempotency_key=f"create-{reference}",
        share_phone=share_phone,
    )


async def _scan_and_answer(
    live: LiveServer, redirect_url: str, reference: str, *answers: str
) -> None:
    """A person scans the code, enters their number on the landing page, then presses the
    phone page's buttons (`share`, `decline`, `approve`)."""
    token = re.search(r"(?:token=|/qr/)([A-Za-z0-9_-]+)", redirect_url)
    assert token, redirect_url
    async with httpx.AsyncClient(
        base_url=live.url + SANDBOX, timeout=15, cookies=live.emulator_cookies
    ) as http:
        landed = await http.post("/landing", data={"token": token.group(1), "phone": MSISDN})
        assert landed.status_code == 303, landed.text
        for answer in answers:
            pressed = await http.post(f"/phone/{MSISDN}/payments/{reference}/{answer}")
            assert pressed.status_code == 200, pressed.text


async def _created(provider: VippsProvider, reference: str, *, share_phone: bool = True) -> str:
    created = await provider.create_payment(_qr(reference, share_phone=share_phone))
    assert created.redirect_url
    return created.redirect_url


async def test_the_number_the_payer_shares_comes_with_the_payment(
    live: LiveServer, provider: VippsProvider
) -> None:
    reference = "phone-share-0001"
    redirect = await _created(provider, reference)
    assert (await provider.get_payment(reference)).payer_phone is None  # not approved yet
    await _scan_and_answer(live, redirect, reference, "share", "approve")

    snapshot = await provider.get_payment(reference)
    assert snapshot.state is ProviderState.authorized
    assert snapshot.payer_phone == "+4791834562"
    captured = await provider.capture(
        reference, Money(25_000, "NOK"), idempotency_key=f"capture-{reference}"
    )
    assert (captured.captured, captured.payer_phone) == (25_000, "+4791834562")


async def test_force_approve_counts_as_sharing(provider: VippsProvider, emulator: Emulator) -> None:
    reference = "phone-share-0002"
    await _created(provider, reference)
    await emulator.approve(reference, MSISDN)
    assert (await provider.get_payment(reference)).payer_phone == "+4791834562"


async def test_without_sharing_or_when_declined_there_is_no_number(
    live: LiveServer, provider: VippsProvider, emulator: Emulator
) -> None:
    plain = "phone-share-0003"
    await _created(provider, plain, share_phone=False)
    await emulator.approve(plain, MSISDN)
    assert (await provider.get_payment(plain)).payer_phone is None

    declined = "phone-share-0004"
    redirect = await _created(provider, declined)
    await _scan_and_answer(live, redirect, declined, "decline")
    snapshot = await provider.get_payment(declined)
    assert (snapshot.state, snapshot.payer_phone) == (ProviderState.aborted, None)


async def _after_capture(sessions: Sessions, reference: str) -> PaymentRequest:
    async def learned(session: AsyncSession) -> bool:
        request = await repository.by_reference(session, reference)
        return request is not None and request.payer_phone is not None

    await wait_until(sessions, learned, what="the shared number")
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        return request


@pytest.mark.usefixtures("webhook_ready")
async def test_a_staff_qr_request_teaches_the_customer_card_the_number(
    sessions: Sessions, provider: VippsProvider, emulator: Emulator
) -> None:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Sander Bakke", phone="")
        invoice = await make_invoice(session, customer, amount=25_000)
        customer_id, invoice_id = customer.id, invoice.id
    reference = await send_request(
        sessions, provider, customer_id=customer_id, invoice_ids=[invoice_id], phone=None
    )
    await emulator.approve(reference, MSISDN)
    await wait_for_status(sessions, reference, "paid")
    request = await _after_capture(sessions, reference)
    assert (request.user_flow, request.share_phone) == ("qr", True)
    assert request.payer_phone == "+4791834562"
    async with sessions() as session:
        found = await session.get(Customer, customer_id)
        assert found is not None
        assert (found.phone, found.suggested_phone) == (None, "+4791834562")
        assert found.suggested_phone_request_id == request.id


async def _portal(
    live: LiveServer, sessions: Sessions, *, phone: str
) -> tuple[httpx.AsyncClient, int, int]:
    """A signed-in portal visitor: (client, customer id, an open invoice's id)."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Kari Nordmann", phone=phone)
        customer.portal_access = True
        invoice = await make_invoice(session, customer, amount=25_000)
        ids = customer.id, invoice.id
    http = httpx.AsyncClient(base_url=live.url, timeout=15)
    await sign_in(http, sessions, ids[0])
    return http, *ids


async def _pay_by_qr(http: httpx.AsyncClient, invoice_id: int, **extra: str) -> tuple[str, str]:
    """Pay with a QR code from the pay page; returns (the page as shown, the reference)."""
    page = await http.get("/portal/pay", params={"invoice_ids": invoice_id})
    paid = await submit_pay(http, page.text, [invoice_id], method="qr", **extra)
    assert paid.status_code == 303, paid.text
    return page.text, paid.headers["location"].rsplit("/", 1)[1]


@pytest.mark.usefixtures("webhook_ready")
@pytest.mark.parametrize("ticked", [True, False], ids=["save", "do-not-save"])
async def test_the_portal_keeps_the_number_only_when_the_customer_ticks_it(
    live: LiveServer, sessions: Sessions, emulator: Emulator, ticked: bool
) -> None:
    http, customer_id, invoice_id = await _portal(live, sessions, phone="")
    try:
        page, reference = await _pay_by_qr(
            http, invoice_id, **({"save_phone": "true"} if ticked else {})
        )
    finally:
        await http.aclose()
    assert "Lagre MobilePay-nummeret mitt til neste gang" in page  # the customer's language
    assert re.search(r'<input id="save-phone" name="save_phone" type="checkbox" value="true"', page)
    assert 'name="save_phone" type="checkbox" value="true" checked' not in page  # unticked
    await emulator.approve(reference, MSISDN)
    request = await _after_capture(sessions, reference)
    assert (request.share_phone, request.save_phone) == (True, ticked)
    async with sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        if ticked:
            assert (customer.phone, customer.suggested_phone) == ("+4791834562", None)
        else:
            assert (customer.phone, customer.suggested_phone) == (None, "+4791834562")


@pytest.mark.usefixtures("webhook_ready")
async def test_the_portal_does_not_ask_a_customer_whose_number_it_knows(
    live: LiveServer, sessions: Sessions
) -> None:
    http, _, invoice_id = await _portal(live, sessions, phone="+4791234567")
    try:
        page, reference = await _pay_by_qr(http, invoice_id, save_phone="true")
    finally:
        await http.aclose()
    assert 'name="save_phone"' not in page
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
        assert (request.share_phone, request.save_phone) == (False, False)
