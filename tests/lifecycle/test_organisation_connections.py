"""Two businesses in two markets on one installation, over real HTTP against the live server
and its emulator: the Norwegian one pays through the installation's own sales unit (the
environment's), the Danish one connects its own Danish sales unit in Settings and pays through
it; each webhook is checked with its own connection's secret and touches only its own
organisation's payments."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest import __version__
from payrequest.config import secret_key
from payrequest.connections.models import ProviderConnection
from payrequest.db.scope import ALL, scoped_to
from payrequest.db.session import session_factory
from payrequest.inbound.models import InboundEvent
from payrequest.inbound.registrations import WebhookRegistration
from payrequest.kit.crypto import SecretBox
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Membership
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.providers.vipps.client import Credentials, VippsClient
from payrequest.sandbox.config import DK_TEST_UNIT
from payrequest.sandbox.signing import signed_headers
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import SANDBOX, LiveServer, wait_for_status
from tests.staff import create_staff, csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]
NORWAY = 1  # the test organisation: no connection of its own, the installation's unit


@pytest.fixture
async def denmark(sessions: Sessions) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        created = await organisations.create(
            session, NewOrganisation(name="Dansk Rør ApS", slug="dansk-ror", market="DK")
        )
        return created.id


@pytest.fixture
async def owner(
    live: LiveServer, sessions: Sessions, denmark: int
) -> AsyncIterator[httpx.AsyncClient]:
    """The owner of both businesses, signed in (working in the Norwegian one first)."""
    await create_staff(sessions, roles=("owner",), locale="en")
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        person = await session.scalar(
            select(Membership.user_id).where(Membership.organisation_id == NORWAY)
        )
        assert person is not None
        await organisations.add_member(
            session, user_id=person, organisation_id=denmark, role="owner"
        )
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await sign_in(client, "owner")
        yield client


async def _switch(client: httpx.AsyncClient, organisation: int) -> None:
    page = await client.get("/customers")
    response = await client.post(
        "/account/organisation", data={"csrf": csrf_of(page.text), "organisation": organisation}
    )
    assert response.status_code == 303, response.text


async def _connect_danish_unit(client: httpx.AsyncClient) -> httpx.Response:
    page = await client.get("/settings")
    assert 'data-connection-status="none"' in page.text, "a new business starts unconnected"
    return await client.post(
        "/settings/connection",
        data={
            "csrf": csrf_of(page.text),
            "mode": "sandbox",
            "market": "DK",
            "merchant_serial_number": DK_TEST_UNIT.msn,
            "client_id": DK_TEST_UNIT.client_id,
            "client_secret": DK_TEST_UNIT.client_secret,
            "subscription_key": DK_TEST_UNIT.subscription_key,
        },
    )


async def _customer_with_invoice(
    sessions: Sessions, *, phone: str, currency: str, country: str, amount: int
) -> tuple[int, int]:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone=phone, country=country)
        invoice = await make_invoice(session, customer, amount=amount, currency=currency)
        return customer.id, invoice.id


async def _send(client: httpx.AsyncClient, customer_id: int, invoice_id: int) -> None:
    card = await client.get(f"/customers/{customer_id}")
    assert card.status_code == 200, card.text
    response = await client.post(
        f"/customers/{customer_id}/requests",
        data={"csrf": csrf_of(card.text), "invoice_ids": [str(invoice_id)]},
    )
    assert response.status_code == 303, response.text


async def _reference(sessions: Sessions, customer_id: int) -> str:
    async with sessions() as session:
        found = await session.scalar(
            select(PaymentRequest.reference).where(PaymentRequest.customer_id == customer_id)
        )
    assert found is not None
    return found


def _unit_client(live: LiveServer, credentials: Credentials) -> VippsClient:
    return VippsClient(
        base_url=live.url + SANDBOX, credentials=credentials, system_version=__version__
    )


async def _approve(client: VippsClient, reference: str, phone: str) -> None:
    response = await client.call(
        "POST",
        f"/epayment/v1/test/payments/{reference}/approve",
        json={"customer": {"phoneNumber": phone}},
    )
    assert response.status_code == 200, response.text


async def test_two_businesses_in_two_markets_pay_each_through_their_own_sales_unit(
    live: LiveServer,
    sessions: Sessions,
    engine: AsyncEngine,
    denmark: int,
    owner: httpx.AsyncClient,
) -> None:
    danish_sessions = session_factory(engine, scope=denmark)
    # The Danish business connects its own Danish sales unit in Settings.
    await _switch(owner, denmark)
    connected = await _connect_danish_unit(owner)
    assert connected.status_code == 303, connected.text
    settings_page = (await owner.get("/settings")).text
    assert 'data-connection-status="connected"' in settings_page, settings_page
    assert DK_TEST_UNIT.client_secret not in settings_page  # keys are never shown back
    async with danish_sessions() as session:
        connection = (await session.scalars(select(ProviderConnection))).one()
        registration = (
            await session.scalars(
                select(WebhookRegistration).where(
                    WebhookRegistration.connection_id == connection.id
                )
            )
        ).one()
    assert registration.merchant_id == DK_TEST_UNIT.msn
    assert registration.url.endswith(f"/webhooks/vipps/{connection.webhook_token}")
    assert set(connection.sealed) == {"client_secret", "subscription_key"}
    assert all("secret" not in sealed for sealed in connection.sealed.values())

    # Each business sends a request to its own customer, in its own currency.
    danish_customer, danish_invoice = await _customer_with_invoice(
        danish_sessions, phone="+4520457136", currency="DKK", country="DK", amount=37_500
    )
    await _send(owner, danish_customer, danish_invoice)
    await _switch(owner, NORWAY)
    norwegian_customer, norwegian_invoice = await _customer_with_invoice(
        sessions, phone="+4791234567", currency="NOK", country="NO", amount=49_900
    )
    await _send(owner, norwegian_customer, norwegian_invoice)
    danish = await _reference(danish_sessions, danish_customer)
    norwegian = await _reference(sessions, norwegian_customer)

    # The Danish payment lives at the Danish unit only, the Norwegian one at the installation's.
    dk_unit = _unit_client(
        live,
        Credentials(
            DK_TEST_UNIT.client_id,
            DK_TEST_UNIT.client_secret,
            DK_TEST_UNIT.subscription_key,
            DK_TEST_UNIT.msn,
        ),
    )
    no_unit = _unit_client(
        live,
        Credentials("sandbox-client", "sandbox-secret", "sandbox-subscription-key", "123456"),
    )
    try:
        at_dk = await dk_unit.call("GET", f"/epayment/v1/payments/{danish}")
        assert at_dk.status_code == 200, at_dk.text
        assert at_dk.json()["amount"] == {"currency": "DKK", "value": 37_500}
        assert (await no_unit.call("GET", f"/epayment/v1/payments/{danish}")).status_code == 404
        await _approve(dk_unit, danish, "4520457136")
        await _approve(no_unit, norwegian, "4791234567")
    finally:
        await dk_unit.close()
        await no_unit.close()
    await wait_for_status(danish_sessions, danish, "paid")
    await wait_for_status(sessions, norwegian, "paid")

    # Each webhook came to its own connection's URL and was kept for its own business.
    async with sessions(info=scoped_to(ALL)) as session:
        rows = await session.execute(
            select(InboundEvent.reference, InboundEvent.organisation_id).where(
                InboundEvent.reference.in_([danish, norwegian])
            )
        )
        owners = {reference: organisation for reference, organisation in rows}
    assert owners == {danish: denmark, norwegian: NORWAY}


async def test_a_webhook_signed_for_one_business_never_touches_anothers_payment(
    live: LiveServer,
    sessions: Sessions,
    engine: AsyncEngine,
    denmark: int,
    owner: httpx.AsyncClient,
) -> None:
    await _switch(owner, denmark)
    assert (await _connect_danish_unit(owner)).status_code == 303
    await _switch(owner, NORWAY)
    customer, invoice = await _customer_with_invoice(
        sessions, phone="+4791234567", currency="NOK", country="NO", amount=12_300
    )
    await _send(owner, customer, invoice)
    norwegian = await _reference(sessions, customer)
    await wait_for_status(sessions, norwegian, "pending")

    # The Danish connection's genuine secret signs an "authorized" event naming the Norwegian
    # business's payment, sent to the Danish connection's own URL.
    box = SecretBox(secret_key(live.settings))
    async with session_factory(engine, scope=denmark)() as session:
        connection = (await session.scalars(select(ProviderConnection))).one()
        registration = (
            await session.scalars(
                select(WebhookRegistration).where(
                    WebhookRegistration.connection_id == connection.id
                )
            )
        ).one()
        secret = box.open(registration.secret_encrypted)
        url = registration.url
    body = json.dumps(
        {
            "msn": DK_TEST_UNIT.msn,
            "reference": norwegian,
            "pspReference": "forged-1",
            "name": "AUTHORIZED",
            "amount": {"currency": "NOK", "value": 12_300},
            "timestamp": "2026-12-01T10:00:00.000Z",
            "idempotencyKey": None,
            "success": True,
        }
    ).encode()
    headers = signed_headers(secret, url, body, time.time(), "forged-webhook-1")
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(url, content=body, headers=headers)
    assert answer.status_code == 200, answer.text  # genuine for the Danish connection ...
    async with sessions(info=scoped_to(ALL)) as session:
        kept = (
            await session.execute(
                select(InboundEvent.organisation_id, InboundEvent.status).where(
                    InboundEvent.dedupe_key.like("%forged-1%")
                )
            )
        ).one()
        status = await session.scalar(
            select(PaymentRequest.status).where(PaymentRequest.reference == norwegian)
        )
    assert tuple(kept) == (denmark, "unmatched")  # ... but it finds nothing in Denmark
    assert status == "pending"  # and the Norwegian payment is untouched

    # The same body at the installation's URL, signed with the Danish secret: refused.
    installation_url = live.url + "/webhooks/vipps"
    headers = signed_headers(secret, installation_url, body, time.time(), "forged-webhook-2")
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(installation_url, content=body, headers=headers)
    assert refused.status_code == 401
    # An address no connection has is no webhook at all.
    async with httpx.AsyncClient(timeout=10) as http:
        unknown = await http.post(live.url + "/webhooks/vipps/not-a-token", content=body)
    assert unknown.status_code == 404
