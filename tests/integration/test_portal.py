"""The customer portal over HTTP: magic links, the start page of one organisation, and
isolation between customers, in one organisation and across organisations."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.config import load_settings
from payrequest.customers.models import Customer
from payrequest.db.scope import ALL, acting_for, scoped_to
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.ledger import service as ledger
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.portal import service as portal
from payrequest.portal.models import PortalLink
from payrequest.tables import metadata
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice
from tests.integration.portal_helpers import open_link

BASE = "http://testserver"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def app_client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE)
    app = create_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http
    await app.state.runtime.close()


async def _portal_customer(sessions: Sessions, name: str, phone: str) -> Customer:
    async with sessions() as session, session.begin():
        customer = await make_customer(session, name=name, phone=phone)
        customer.portal_access = True
        customer.email = f"{name.split()[0].lower()}@example.no"
        return customer


async def _link(sessions: Sessions, customer_id: int, lifetime: timedelta | None = None) -> str:
    async with sessions() as session, session.begin():
        issued = await portal.issue_link(
            session,
            customer_id=customer_id,
            channel="sms",
            lifetime=lifetime or portal.LINK_LIFETIME,
        )
        return issued.token


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_a_link_works_once_and_is_stored_only_as_a_hash(
    app_client: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer = await _portal_customer(sessions, "Kari Nordmann", "+4791234567")
    token = await _link(sessions, customer.id)
    assert len(token) >= 43  # 256 bits, URL-safe base64
    async with sessions() as session:
        stored = (await session.execute(select(PortalLink.token_hash))).scalar_one()
    assert token not in stored and len(stored) == 64

    opened = await open_link(app_client, token)
    assert opened.status_code == 303 and opened.headers["location"] == "/portal"
    home = await app_client.get("/portal")
    assert home.status_code == 200 and "Kari Nordmann" in home.text

    async with httpx.AsyncClient(transport=app_client._transport, base_url=BASE) as other:
        again = await other.get(f"/portal/link/{token}")
        assert again.status_code == 410
        pressed = await other.post(f"/portal/link/{token}", data={"csrf": _csrf(again.text)})
        assert pressed.status_code == 410
        assert (await other.get("/portal")).status_code == 303


async def test_an_expired_link_is_refused(
    app_client: httpx.AsyncClient, sessions: Sessions
) -> None:
    customer = await _portal_customer(sessions, "Ola Hansen", "+4792345678")
    token = await _link(sessions, customer.id, lifetime=timedelta(seconds=-1))
    start = await app_client.get("/portal/start")
    await app_client.post(  # choose English in the page: the assertion reads English
        "/portal/language",
        data={"language": "en", "csrf": _csrf(start.text), "back": "/portal/start"},
    )
    response = await app_client.get(f"/portal/link/{token}")
    assert response.status_code == 410
    assert "expired" in response.text


async def test_asking_for_a_link_never_reveals_whether_the_address_exists(
    app_client: httpx.AsyncClient, sessions: Sessions
) -> None:
    await _portal_customer(sessions, "Kari Nordmann", "+4791234567")
    answers = []
    for contact in ("kari@example.no", "nobody@example.no", "+4791234567", "+4799999999"):
        page = await app_client.get("/portal/start")
        response = await app_client.post(
            "/portal/start", data={"contact": contact, "csrf": _csrf(page.text)}
        )
        assert response.status_code == 200
        answers.append(re.sub(r'value="[^"]+"', "", response.text))
    assert len(set(answers)) == 1
    async with sessions() as session:
        issued = (await session.execute(select(func.count(PortalLink.id)))).scalar_one()
    assert issued == 2  # one per known address, none for the unknown ones


async def test_asking_for_links_is_rate_limited(
    app_client: httpx.AsyncClient, sessions: Sessions
) -> None:
    await _portal_customer(sessions, "Kari Nordmann", "+4791234567")
    statuses = []
    for _ in range(5):
        page = await app_client.get("/portal/start")
        response = await app_client.post(
            "/portal/start", data={"contact": "kari@example.no", "csrf": _csrf(page.text)}
        )
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    async with sessions() as session:
        issued = (await session.execute(select(func.count(PortalLink.id)))).scalar_one()
    assert issued == 3


async def _row_counts(sessions: Sessions) -> dict[str, int]:
    """Every organisation's rows (a session scoped to ALL)."""
    async with sessions(info=scoped_to(ALL)) as session:
        return {
            t.name: int((await session.execute(select(func.count()).select_from(t))).scalar_one())
            for t in metadata.sorted_tables
            if t.name != "rate_limit_hits"
        }


async def _second_organisation(sessions: Sessions) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        made = await organisations.create(
            session, NewOrganisation(name="Nordlys Rør AS", slug="nordlys")
        )
        return made.id


@pytest.mark.parametrize("where", ["same organisation", "another organisation"])
async def test_customer_a_cannot_read_or_write_anything_of_customer_b(
    app_client: httpx.AsyncClient, sessions: Sessions, where: str
) -> None:
    a = await _portal_customer(sessions, "Anne Aas", "+4791111111")
    b_organisation = TEST_ORGANISATION
    if where == "another organisation":
        b_organisation = await _second_organisation(sessions)
    with acting_for(b_organisation):
        # Another business may know Bjørn by the same customer number as Anne's (C-1).
        b = await _portal_customer(sessions, "Bjørn Berg", "+4792222222")
        async with sessions() as session, session.begin():
            b_invoice = await make_invoice(session, b, amount=5_000, number="B-INV-1")
            b_paid = await make_invoice(session, b, amount=7_000, number="B-INV-2")
            request = PaymentRequest(
                reference="b-secret-0001",
                customer_id=b.id,
                currency="NOK",
                amount=7_000,
                description="Invoice B-INV-2",
                origin="portal",
                status="paid",
                captured_amount=7_000,
                expires_at=utcnow() + timedelta(hours=1),
                finished_at=utcnow(),
            )
            session.add(request)
            await session.flush()
            await ledger.allocate_payment(
                session,
                payment_request_id=request.id,
                customer_id=b.id,
                amount=Money(7_000, "NOK"),
                invoice_ids=[b_paid.id],
            )
            waiting = PaymentRequest(
                reference="b-waiting-0001",
                customer_id=b.id,
                currency="NOK",
                amount=5_000,
                description="Invoice B-INV-1",
                origin="portal",
                status="rejected",
                phone="+4792222222",
                expires_at=utcnow() + timedelta(hours=1),
            )
            session.add(waiting)
    assert b.organisation_id == b_organisation
    await open_link(app_client, await _link(sessions, a.id))
    token = _csrf((await app_client.get("/portal")).text)
    before = await _row_counts(sessions)

    reads = [
        f"/portal/invoices/{b_invoice.id}",
        f"/portal/invoices/{b_paid.id}",
        f"/portal/payments/{request.reference}",
        f"/portal/payments/{request.reference}/live",
        f"/portal/receipts/{request.reference}",
        f"/portal/payments/{waiting.reference}",
    ]
    for path in reads:
        response = await app_client.get(path)
        assert response.status_code == 404, path
        assert "B-INV" not in response.text and "Bjørn" not in response.text
    pay_form = await app_client.get(f"/portal/pay?invoice_ids={b_invoice.id}")
    assert "B-INV" not in pay_form.text
    writes = [
        (
            "/portal/pay",
            {
                "csrf": token,
                "invoice_ids": str(b_invoice.id),
                "phone": "+4791111111",
                "method": "push",
            },
        ),
        (f"/portal/payments/{waiting.reference}/retry", {"csrf": token}),
    ]
    for path, data in writes:
        response = await app_client.post(path, data=data)
        assert response.status_code in (303, 404, 422), (path, response.status_code)
        assert "B-INV" not in response.text
    assert await _row_counts(sessions) == before
    home = await app_client.get("/portal")
    assert "B-INV" not in home.text and "Bjørn" not in home.text


async def _ask_for_a_link(http: httpx.AsyncClient, contact: str, start: str) -> httpx.Response:
    page = await http.get(start)
    assert page.status_code == 200
    return await http.post(start, data={"contact": contact, "csrf": _csrf(page.text)})


async def _links_by_organisation(sessions: Sessions) -> dict[int, int]:
    async with sessions(info=scoped_to(ALL)) as session:
        rows = await session.execute(
            select(PortalLink.organisation_id, func.count()).group_by(PortalLink.organisation_id)
        )
        return {organisation: int(count) for organisation, count in rows.tuples()}


async def test_the_start_page_sends_a_link_from_the_organisation_its_url_names(
    app_client: httpx.AsyncClient, sessions: Sessions
) -> None:
    """Kari is a customer of two businesses, with the same email address at both."""
    await _portal_customer(sessions, "Kari Nordmann", "+4791234567")
    nordlys = await _second_organisation(sessions)
    with acting_for(nordlys):
        await _portal_customer(sessions, "Kari Nordmann", "+4791234567")

    page = await app_client.get("/portal/start?org=nordlys")
    assert '<input type="hidden" name="org" value="nordlys">' in page.text
    form = {"contact": "kari@example.no", "csrf": _csrf(page.text), "org": "nordlys"}
    named = await app_client.post("/portal/start", data=form)
    assert await _links_by_organisation(sessions) == {nordlys: 1}

    # Without a slug: the installation's first organisation (as before organisations).
    plain = await _ask_for_a_link(app_client, "kari@example.no", "/portal/start")
    assert await _links_by_organisation(sessions) == {nordlys: 1, TEST_ORGANISATION: 1}

    # A slug that names no business: the same answer as an address nobody has, no link.
    unknown = await _ask_for_a_link(app_client, "kari@example.no", "/portal/start?org=nowhere")
    nobody = await _ask_for_a_link(app_client, "nobody@example.no", "/portal/start?org=nordlys")
    nobody_plain = await _ask_for_a_link(app_client, "nobody@example.no", "/portal/start")
    assert await _links_by_organisation(sessions) == {nordlys: 1, TEST_ORGANISATION: 1}

    def answer(response: httpx.Response) -> str:
        assert response.status_code == 200
        return re.sub(r'value="[^"]+"', "", response.text)  # the CSRF token, the slug

    assert answer(named) == answer(unknown) == answer(nobody)
    assert answer(plain) == answer(nobody_plain)
    assert "Nordlys" not in page.text + unknown.text


async def test_a_customer_of_another_organisation_signs_in_to_that_organisations_portal(
    app_client: httpx.AsyncClient, sessions: Sessions
) -> None:
    """A link of the second organisation opens its portal: its own invoices, none of the
    first's, and signing out leads back to that organisation's start page."""
    first = await _portal_customer(sessions, "Kari Nordmann", "+4791234567")
    async with sessions() as session, session.begin():
        await make_invoice(session, first, amount=5_000, number="FIRST-1")
    nordlys = await _second_organisation(sessions)
    with acting_for(nordlys):
        kari = await _portal_customer(sessions, "Kari Nordmann", "+4791234567")
        async with sessions() as session, session.begin():
            await make_invoice(session, kari, amount=6_000, number="NORDLYS-1")
        token = await _link(sessions, kari.id)

    assert (await open_link(app_client, token)).status_code == 303
    home = await app_client.get("/portal")
    assert home.status_code == 200
    assert "NORDLYS-1" in home.text and "FIRST-1" not in home.text

    left = await app_client.post("/portal/logout", data={"csrf": _csrf(home.text)})
    assert left.headers["location"] == "/portal/start?org=nordlys"
    again = await app_client.get("/portal")
    assert again.status_code == 303 and again.headers["location"] == "/portal/start?org=nordlys"
    used = await app_client.get(f"/portal/link/{token}")
    assert used.status_code == 410
    assert '<input type="hidden" name="org" value="nordlys">' in used.text
    missing = await app_client.get("/portal/no-such-page")
    assert missing.status_code == 404 and 'href="/portal/start?org=nordlys"' in missing.text


async def test_back_from_the_app_in_another_browser_leads_to_the_payments_business(
    app_client: httpx.AsyncClient, sessions: Sessions
) -> None:
    """The app may open the return address in a browser that is not signed in: the start
    page it is sent to is the one of the business the payment is for."""
    nordlys = await _second_organisation(sessions)
    with acting_for(nordlys):
        kari = await _portal_customer(sessions, "Kari Nordmann", "+4791234567")
        async with sessions() as session, session.begin():
            session.add(
                PaymentRequest(
                    reference="pr-nordlys-back-1",
                    customer_id=kari.id,
                    currency="NOK",
                    amount=5_000,
                    description="Invoice",
                    origin="portal",
                    status="pending",
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )
        token = await _link(sessions, kari.id)

    back = await app_client.get("/portal/returned?reference=pr-nordlys-back-1")
    assert back.headers["location"] == "/portal/start?org=nordlys"
    unknown = await app_client.get("/portal/returned?reference=pr-nobody-000001")
    assert unknown.headers["location"] == "/portal/start"

    await open_link(app_client, token)
    signed_in = await app_client.get("/portal/returned?reference=pr-nordlys-back-1")
    assert signed_in.headers["location"] == "/portal/payments/pr-nordlys-back-1"


@pytest.mark.parametrize(
    "path",
    [
        "/portal",
        "/portal/pay",
        "/portal/payments/x-00000001",
        "/portal/receipts/x-00000001",
        "/portal/events",
    ],
)
async def test_portal_pages_need_a_link_first(app_client: httpx.AsyncClient, path: str) -> None:
    response = await app_client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/start"
