"""A business signs up on an installation running on the emulator and sends its first payment
request within a minute, over real HTTP against the live server: the verification email waits
in the local outbox, its link signs the owner in, the new business is connected to a test sales
unit of its own (never the installation's), and a request to a test number is paid through it."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest import __version__
from payrequest.app import AUTO_MSN_BASE
from payrequest.connections.models import ProviderConnection
from payrequest.db.scope import ALL, scoped_to
from payrequest.db.session import session_factory
from payrequest.notify.email import outbox
from payrequest.organisations.models import Organisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.providers.vipps.client import Credentials, VippsClient
from payrequest.sandbox.config import auto_unit
from tests.factories import make_customer, make_invoice
from tests.lifecycle.conftest import SANDBOX, LiveServer, wait_for_status
from tests.staff import csrf_of

Sessions = async_sessionmaker[AsyncSession]
PASSWORD = "a long enough password"


async def _verification_link(live: LiveServer, to: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for kept in outbox.read(outbox.outbox_path(live.settings)):
            found = re.search(r"https?://\S+/signup/verify\?token=\S+", kept.text)
            if kept.to == to and found:
                return found.group(0)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no verification email to {to} in the outbox")


async def test_a_new_business_sends_its_first_request_through_a_test_unit_of_its_own(
    live: LiveServer, sessions: Sessions, engine: AsyncEngine
) -> None:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        form = await client.get("/signup?lang=en")
        answer = await client.post(
            "/signup",
            data={
                "csrf": csrf_of(form.text),
                "business_name": "Fjord Rør AS",
                "market": "NO",
                "name": "Ola Nordmann",
                "email": "ola@fjord.example",
                "password": PASSWORD,
            },
        )
        assert answer.status_code == 303, answer.text
        link = await _verification_link(live, "ola@fjord.example")
        opened = await client.get(link.replace(live.url, ""))
        assert opened.status_code == 303 and opened.headers["location"] == "/customers"

        async with sessions(info=scoped_to(ALL)) as session:
            business = await session.scalar(
                select(Organisation).where(Organisation.slug == "fjord-ror-as")
            )
            assert business is not None
            organisation = business.id
        scoped = session_factory(engine, scope=organisation)
        unit = auto_unit("NO", str(AUTO_MSN_BASE + organisation))

        # Its own test unit, checked and with its webhook registered, after the answer.
        deadline = time.monotonic() + 15
        while True:
            async with scoped() as session:
                connection = (await session.scalars(select(ProviderConnection))).one()
            if connection.status == "connected" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert connection.status == "connected", connection.last_error
        assert connection.account == unit.msn != "123456"

        async with scoped() as session, session.begin():
            customer = await make_customer(session, phone="+4791234567")
            invoice = await make_invoice(session, customer, amount=25_000)
            customer_id, invoice_id = customer.id, invoice.id
        card = await client.get(f"/customers/{customer_id}")
        assert card.status_code == 200, card.text
        sent = await client.post(
            f"/customers/{customer_id}/requests",
            data={"csrf": csrf_of(card.text), "invoice_ids": [str(invoice_id)]},
        )
        assert sent.status_code == 303, sent.text
    async with scoped() as session:
        reference = await session.scalar(select(PaymentRequest.reference))
    assert reference is not None

    own_unit = VippsClient(
        base_url=live.url + SANDBOX,
        credentials=Credentials(
            unit.client_id, unit.client_secret, unit.subscription_key, unit.msn
        ),
        system_version=__version__,
    )
    try:
        approved = await own_unit.call(
            "POST",
            f"/epayment/v1/test/payments/{reference}/approve",
            json={"customer": {"phoneNumber": "4791234567"}},
        )
        assert approved.status_code == 200, approved.text
    finally:
        await own_unit.close()
    await wait_for_status(scoped, reference, "paid")
    assert time.monotonic() - started < 60
