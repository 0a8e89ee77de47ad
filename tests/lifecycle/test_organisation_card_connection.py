"""A second business connects its own Stripe account in Settings and takes card payments
through it, over real HTTP against the live server and the mounted Stripe emulator (which
plays one account per test key): the key is checked, stored sealed and never shown; the
business's own webhook endpoint is registered at its own address; its card payments are made
in its own account, not the installation's, and its webhooks make them paid."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest.connections.models import ProviderConnection
from payrequest.db.scope import ALL, scoped_to
from payrequest.db.session import session_factory
from payrequest.inbound.models import InboundEvent
from payrequest.inbound.registrations import WebhookRegistration
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Membership
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.sandbox.config import DK_TEST_UNIT
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import LiveServer, wait_for_status
from tests.lifecycle.test_portal_card import pay_on_checkout
from tests.staff import create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
FIRST = 1  # the test organisation: the installation's own Stripe account is its
OWN_KEY = "sk_test_danskror4242"  # the Danish business's own test account at the emulator
INSTALLATION_KEY = "sk_test_sandbox"  # the installation's (PAYREQUEST_STRIPE__SECRET_KEY)
STRIPE_API = "/sandbox/stripe/v1"


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
    """The owner of both businesses, signed in and working in the Danish one."""
    await create_staff(sessions, roles=("owner",), locale="en")
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        person = await session.scalar(
            select(Membership.user_id).where(Membership.organisation_id == FIRST)
        )
        assert person is not None
        await organisations.add_member(
            session, user_id=person, organisation_id=denmark, role="owner"
        )
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await sign_in(client, "owner")
        page = await client.get("/customers")
        switched = await client.post(
            "/account/organisation", data={"csrf": csrf_of(page.text), "organisation": denmark}
        )
        assert switched.status_code == 303, switched.text
        yield client


async def _connect(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    page = await client.get("/settings")
    return await client.post(
        "/settings/card-connection", data={"csrf": csrf_of(page.text), "mode": "sandbox", **form}
    )


async def _connect_mobilepay(client: httpx.AsyncClient) -> httpx.Response:
    page = await client.get("/settings")
    unit = DK_TEST_UNIT
    return await client.post(
        "/settings/connection",
        data={
            "csrf": csrf_of(page.text),
            "mode": "sandbox",
            "market": "DK",
            "merchant_serial_number": unit.msn,
            "client_id": unit.client_id,
            "client_secret": unit.client_secret,
            "subscription_key": unit.subscription_key,
        },
    )


async def _session_at(live: LiveServer, key: str, session_id: str) -> int:
    """The HTTP status of reading the Checkout Session with `key` (whose account holds it)."""
    async with httpx.AsyncClient(base_url=live.url, timeout=10) as stripe:
        found = await stripe.get(
            f"{STRIPE_API}/checkout/sessions/{session_id}",
            headers={"Authorization": f"Bearer {key}"},
        )
    return found.status_code


async def test_a_business_connects_its_own_stripe_account_and_is_paid_through_it(
    owner: httpx.AsyncClient,
    live: LiveServer,
    sessions: Sessions,
    engine: AsyncEngine,
    denmark: int,
) -> None:
    danish = session_factory(engine, scope=denmark)
    async with danish() as session, session.begin():
        customer = await make_customer(session, phone="+4520457136", country="DK")
        invoice = await make_invoice(session, customer, amount=37_500, currency="DKK")
        customer_id, invoice_id = customer.id, invoice.id

    # The business takes MobilePay through its own Danish sales unit, and no cards yet:
    # Settings says so, and the customer card offers no card payment.
    mobilepay = await _connect_mobilepay(owner)
    assert mobilepay.status_code == 303, mobilepay.text
    page = (await owner.get("/settings")).text
    assert 'data-card-connection-status="none"' in page
    assert "data-card-not-connected" in page
    assert 'name="flow" value="card"' not in (await owner.get(f"/customers/{customer_id}")).text

    # A publishable key is not a secret key: shown again with the reason, nothing stored.
    refused = await _connect(owner, secret_key="pk_test_danskror4242")
    assert refused.status_code == 422
    assert "A Stripe secret key starts with sk_test_ or sk_live_" in refused.text
    assert "pk_test_danskror4242" not in refused.text
    async with danish() as session:
        stored = await session.scalars(select(ProviderConnection.provider))
        assert list(stored) == ["vipps"]

    connected = await _connect(owner, secret_key=OWN_KEY)
    assert connected.status_code == 303, connected.text
    assert connected.headers["location"] == "/settings#card-connection"
    async with danish() as session:
        connection = (
            await session.scalars(
                select(ProviderConnection).where(ProviderConnection.provider == "stripe")
            )
        ).one()
        registration = (
            await session.scalars(
                select(WebhookRegistration).where(
                    WebhookRegistration.connection_id == connection.id
                )
            )
        ).one()
    assert (connection.provider, connection.status) == ("stripe", "connected")
    assert connection.account == "sk_test_…4242"
    assert OWN_KEY not in str(connection.sealed)
    assert registration.url == f"{live.url}/webhooks/stripe/{connection.webhook_token}"
    page = (await owner.get("/settings")).text
    assert 'data-card-connection-status="connected"' in page
    assert "Your account is connected and its webhook registered." in page
    assert OWN_KEY not in page

    # A card payment of the Danish business goes through its own account.
    card = await owner.get(f"/customers/{customer_id}")
    assert 'name="flow" value="card"' in card.text
    sent = await owner.post(
        f"/customers/{customer_id}/requests",
        data={"csrf": csrf_of(card.text), "invoice_ids": [str(invoice_id)], "flow": "card"},
    )
    assert sent.status_code == 303, sent.text
    async with danish() as session:
        request = (await session.scalars(select(PaymentRequest))).one()
    assert (request.provider, request.amount, request.currency) == ("stripe", 37_500, "DKK")
    session_id = request.provider_reference or ""
    assert await _session_at(live, OWN_KEY, session_id) == 200
    assert await _session_at(live, INSTALLATION_KEY, session_id) == 404

    paid = await pay_on_checkout(request.redirect_url or "", "4242 4242 4242 4242")
    assert paid.status_code == 303
    await wait_for_status(danish, request.reference, "paid")
    # The events came to the business's own address and are the business's.
    async with sessions(info=scoped_to(ALL)) as session:
        kept = (
            await session.execute(
                select(InboundEvent.organisation_id, InboundEvent.event_name).where(
                    InboundEvent.reference == request.reference
                )
            )
        ).all()
    assert kept and {organisation for organisation, _ in kept} == {denmark}
