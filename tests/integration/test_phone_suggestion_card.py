"""The customer card offers a number learned from a payment: staff use it (only if the card was
up to date) or dismiss it; a read-only member sees the text only. Over HTTP, both databases."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers import service as customer_service
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput
from payrequest.kit.money import Money
from payrequest.payment_requests import apply, repository
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.providers.base import Capabilities, PaymentSnapshot, ProviderState
from tests.factories import make_customer, make_invoice
from tests.staff import app_client, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
SHARED = "+4791834562"


@pytest.fixture
async def client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    await create_staff(sessions, roles=("staff", "readonly"), locale="en")
    async with app_client(database_url, tmp_path) as http:
        yield http


async def _learned(sessions: Sessions, *, phone: str = "") -> tuple[int, str]:
    """A customer whose QR payment shared SHARED (no consent to keep it)."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name="Fjordbakeriet AS", phone=phone)
        invoice = await make_invoice(session, customer, amount=25_000)
        await make_invoice(session, customer, amount=40_000)  # still open: the send form shows
        request = await create_request(
            session,
            data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[invoice.id]),
            lifetime=Lifetime(60, Capabilities()),
        )
        request.share_phone = True
        reference = request.reference
        snapshot = PaymentSnapshot(
            reference,
            ProviderState.authorized,
            Money(25_000, "NOK"),
            25_000,
            25_000,
            0,
            0,
            payer_phone=SHARED,
        )
        await apply.apply_snapshot(session, snapshot=snapshot, source="poll")
        return customer.id, reference


async def _customer(sessions: Sessions, customer_id: int) -> Customer:
    async with sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        return customer


def _send_form_phone(html: str) -> str:
    match = re.search(r'<input id="send-phone"[^>]* value="([^"]*)"', html)
    assert match, "the card has no send form"
    return match.group(1)


async def _press_use(
    client: httpx.AsyncClient, customer_id: int, card: str, *, follow_redirects: bool = False
) -> httpx.Response:
    """'Use this number' on the card as shown (no number on file, SHARED suggested)."""
    return await client.post(
        f"/customers/{customer_id}/phone/use",
        data={"csrf": csrf_of(card), "suggested": SHARED, "current": ""},
        follow_redirects=follow_redirects,
    )


async def test_the_card_offers_the_number_and_use_takes_it(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, reference = await _learned(sessions)
    await sign_in(client, "staff")
    card = await client.get(f"/customers/{customer_id}")
    assert 'Learned from payment <a href="/requests/' in card.text
    assert f">{reference}</a> on " in card.text
    assert ": +47 91 83 45 62; use it for next requests?" in card.text
    assert "Use this number" in card.text and "Dismiss" in card.text
    assert _send_form_phone(card.text) == ""
    live = await client.get(f"/customers/{customer_id}/live/contact")
    assert live.status_code == 200 and "Use this number" in live.text

    used = await _press_use(client, customer_id, card.text)
    assert used.status_code == 303
    card = await client.get(f"/customers/{customer_id}")
    assert "The number is now the customer&#39;s mobile number." in card.text
    assert "Learned from payment" not in card.text
    assert _send_form_phone(card.text) == SHARED  # the next request's form is pre-filled
    customer = await _customer(sessions, customer_id)
    assert (customer.phone, customer.suggested_phone) == (SHARED, None)
    async with sessions() as session:
        request = await repository.by_reference(session, reference)
        assert request is not None
    payment = await client.get(f"/requests/{request.id}")  # the payment's timeline says so
    assert "Staff took the number the payer shared as the customer&#39;s number" in payment.text
    assert "<code>NONE</code>" not in payment.text


async def test_use_is_refused_when_staff_changed_the_number_meanwhile(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, _ = await _learned(sessions)
    await sign_in(client, "staff")
    card = await client.get(f"/customers/{customer_id}")
    async with sessions() as session, session.begin():
        await customer_service.update_customer(
            session,
            customer_id=customer_id,
            data=CustomerInput(name="Fjordbakeriet AS", phone="+4791234567"),
        )
    refused = await _press_use(client, customer_id, card.text, follow_redirects=True)
    assert refused.status_code == 200
    assert "changed to +47 91 23 45 67 meanwhile; nothing was changed" in refused.text
    customer = await _customer(sessions, customer_id)
    assert (customer.phone, customer.suggested_phone) == ("+4791234567", SHARED)


async def test_dismiss_clears_the_suggestion(client: httpx.AsyncClient, sessions: Sessions) -> None:
    customer_id, _ = await _learned(sessions, phone="+4791234567")
    await sign_in(client, "staff")
    card = await client.get(f"/customers/{customer_id}")
    assert "Learned from payment" in card.text
    dismissed = await client.post(
        f"/customers/{customer_id}/phone/dismiss",
        data={"csrf": csrf_of(card.text), "suggested": SHARED},
        follow_redirects=True,
    )
    assert "The suggested number was dismissed." in dismissed.text
    assert "Learned from payment" not in dismissed.text
    customer = await _customer(sessions, customer_id)
    assert (customer.phone, customer.suggested_phone) == ("+4791234567", None)


async def test_read_only_members_see_the_text_only(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer_id, _ = await _learned(sessions)
    await sign_in(client, "readonly")
    card = await client.get(f"/customers/{customer_id}")
    assert "use it for next requests?" in card.text
    assert "Use this number" not in card.text and "/phone/use" not in card.text
    refused = await _press_use(client, customer_id, card.text)
    assert refused.status_code == 403
    assert (await _customer(sessions, customer_id)).suggested_phone == SHARED


async def test_the_card_reads_in_norwegian(client: httpx.AsyncClient, sessions: Sessions) -> None:
    customer_id, _ = await _learned(sessions)
    await create_staff(sessions, roles=("owner",), locale="nb")
    await sign_in(client, "owner")
    card = await client.get(f"/customers/{customer_id}")
    assert "Hentet fra betaling" in card.text and "Bruk dette nummeret" in card.text
    assert "Learned from payment" not in card.text and "Use this number" not in card.text
