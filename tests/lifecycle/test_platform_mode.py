"""Platform mode, over real HTTP against the live server and its emulator: the installation
holds Vipps MobilePay partner keys, a business connects by entering only its merchant serial
number, and its payments go through the partner keys with its MSN on every call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest import __version__
from payrequest.connections.models import ProviderConnection
from payrequest.db.scope import ALL, scoped_to
from payrequest.db.session import session_factory
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Membership
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.providers.vipps.client import Credentials, VippsClient
from payrequest.sandbox.config import DK_TEST_UNIT, TEST_PARTNER
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import (
    SANDBOX,
    LiveServer,
    live_settings,
    start_server,
    wait_for_status,
)
from tests.staff import create_staff, csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("webhook_ready")
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def live(database_url: str, sessions: Sessions, tmp_path: Path) -> Iterator[LiveServer]:
    """The live server, holding the emulator's test partner keys."""
    del sessions  # the tables are wiped after the server stops
    settings = live_settings(
        database_url,
        tmp_path,
        partner_client_id=TEST_PARTNER.client_id,
        partner_client_secret=TEST_PARTNER.client_secret,
        partner_subscription_key=TEST_PARTNER.subscription_key,
    )
    server = start_server(settings)
    yield server
    server.stop()


async def test_a_business_connects_with_its_msn_only_and_pays_through_the_partner_keys(
    live: LiveServer, sessions: Sessions, engine: AsyncEngine
) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        denmark = (
            await organisations.create(
                session, NewOrganisation(name="Platform Kunde ApS", slug="kunde", market="DK")
            )
        ).id
    await create_staff(sessions, roles=("owner",), locale="en")
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        person = await session.scalar(select(Membership.user_id))
        assert person is not None
        await organisations.add_member(
            session, user_id=person, organisation_id=denmark, role="owner"
        )
    scoped = session_factory(engine, scope=denmark)
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        await sign_in(client, "owner")
        page = await client.get("/customers")
        switched = await client.post(
            "/account/organisation", data={"csrf": csrf_of(page.text), "organisation": denmark}
        )
        assert switched.status_code == 303
        settings = await client.get("/settings")
        assert "leave the keys empty" in settings.text  # the installation holds partner keys
        connected = await client.post(
            "/settings/connection",
            data={
                "csrf": csrf_of(settings.text),
                "mode": "sandbox",
                "market": "DK",
                "merchant_serial_number": DK_TEST_UNIT.msn,
            },
        )
        assert connected.status_code == 303, connected.text
        async with scoped() as session:
            connection = (await session.scalars(select(ProviderConnection))).one()
        assert connection.status == "connected", connection.last_error
        assert connection.platform and connection.sealed == {}

        async with scoped() as session, session.begin():
            customer = await make_customer(session, phone="+4520457136", country="DK")
            invoice = await make_invoice(session, customer, amount=19_900, currency="DKK")
            customer_id, invoice_id = customer.id, invoice.id
        card = await client.get(f"/customers/{customer_id}")
        sent = await client.post(
            f"/customers/{customer_id}/requests",
            data={"csrf": csrf_of(card.text), "invoice_ids": [str(invoice_id)]},
        )
        assert sent.status_code == 303, sent.text
    async with scoped() as session:
        reference = await session.scalar(select(PaymentRequest.reference))
    assert reference is not None

    # The payment is the Danish unit's: its own keys see it there.
    unit = VippsClient(
        base_url=live.url + SANDBOX,
        credentials=Credentials(
            DK_TEST_UNIT.client_id,
            DK_TEST_UNIT.client_secret,
            DK_TEST_UNIT.subscription_key,
            DK_TEST_UNIT.msn,
        ),
        system_version=__version__,
    )
    try:
        found = await unit.call("GET", f"/epayment/v1/payments/{reference}")
        assert found.status_code == 200 and found.json()["amount"]["currency"] == "DKK"
        approved = await unit.call(
            "POST",
            f"/epayment/v1/test/payments/{reference}/approve",
            json={"customer": {"phoneNumber": "4520457136"}},
        )
        assert approved.status_code == 200, approved.text
    finally:
        await unit.close()
    await wait_for_status(scoped, reference, "paid")
