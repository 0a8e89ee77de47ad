"""An owner's settings of their organisation (Settings → Organisation): request lifetime and
long-living approval, part payments in the portal, automatic credit, the SMS sender id and the
portal's accent colour. Each is saved with an audit entry, takes effect at once, and only for
that organisation (two organisations). SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.audit.models import AuditEntry
from payrequest.config import load_settings
from payrequest.connections import service as connections
from payrequest.connections.directory import ProviderDirectory
from payrequest.db.scope import ALL, acting_for, scoped_to
from payrequest.kit.crypto import SecretBox
from payrequest.kit.money import Money
from payrequest.kit.urls import PublicUrls
from payrequest.ledger import jobs as ledger_jobs
from payrequest.ledger import manual
from payrequest.ledger import repository as ledger_repository
from payrequest.ledger.manual import NewManualPayment
from payrequest.notify.sms.base import SmsReceipt
from payrequest.organisations import service as organisations
from payrequest.organisations.senders import SmsOfTheScope
from payrequest.organisations.service import NewOrganisation
from payrequest.payment_requests.repository import invoices_in_active_requests
from payrequest.providers.accounts import StoredAccount
from payrequest.providers.base import PaymentProvider
from payrequest.providers.vipps.account import sales_unit
from payrequest.web.security_headers import CSP
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer, make_invoice
from tests.integration import portal_helpers as h
from tests.staff import BASE, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
A = TEST_ORGANISATION
FORM = {
    "request_lifetime_minutes": "30",
    "long_living_approved": "true",
    "portal_partial_payments": "true",
    "auto_apply_credit": "true",
    "sms_sender": "Fjord Ror",
    "brand_colour": "#1A6E4F",
}


@pytest.fixture
async def second(sessions: Sessions) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        created = await organisations.create(
            session, NewOrganisation(name="Bergen Bad AS", slug="bergen-bad")
        )
        return created.id


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    await create_staff(sessions)
    app = create_app(load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE))
    yield app
    await app.state.runtime.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        yield http


async def _settings_of(sessions: Sessions, organisation_id: int) -> dict[str, Any]:
    async with sessions(info=scoped_to(ALL)) as session:
        found = await organisations.get(session, organisation_id)
        return {
            "request_lifetime_minutes": found.request_lifetime_minutes,
            "long_living_approved": found.long_living_approved,
            "portal_partial_payments": found.portal_partial_payments,
            "auto_apply_credit": found.auto_apply_credit,
            "sms_sender": found.sms_sender,
            "brand_colour": found.brand_colour,
        }


DEFAULTS = {
    "request_lifetime_minutes": 1440,
    "long_living_approved": False,
    "portal_partial_payments": False,
    "auto_apply_credit": False,
    "sms_sender": None,
    "brand_colour": None,
}


async def _save(client: httpx.AsyncClient, **values: str) -> httpx.Response:
    token = csrf_of((await client.get("/settings")).text)
    form = {**FORM, **values}
    form = {key: value for key, value in form.items() if value != "off"}  # an unticked box
    return await client.post("/settings/organisation/settings", data={"csrf": token, **form})


async def _updates(sessions: Sessions) -> list[AuditEntry]:
    async with sessions() as session:
        return list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "organisation.update")
            )
        )


# --- saving --------------------------------------------------------------------------------


async def test_an_owner_saves_the_settings_of_their_organisation_only(
    app: FastAPI, client: httpx.AsyncClient, sessions: Sessions, second: int
) -> None:
    runtime = app.state.runtime
    await sign_in(client, "owner")
    page = (await client.get("/settings")).text
    assert "data-options-form" in page and 'name="request_lifetime_minutes"' in page
    # the emulator's unit is not approved for long-living requests: it caps the lifetime
    assert "New payment requests live 10 minutes." in page
    assert "The lifetime set here (1 day) is more than the sales unit allows." in page
    assert await runtime.directory.lifetime_minutes(A) == 1440  # now cached
    saved = await _save(client)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/settings#organisation-settings"
    assert await _settings_of(sessions, A) == {
        **FORM,
        "request_lifetime_minutes": 30,
        "long_living_approved": True,
        "portal_partial_payments": True,
        "auto_apply_credit": True,
        "brand_colour": "#1a6e4f",
    }
    assert await _settings_of(sessions, second) == DEFAULTS
    # The directory forgot what it knew: the new lifetime applies to the next request.
    assert await runtime.directory.lifetime_minutes(A) == 30
    page = (await client.get("/settings")).text
    assert "The organisation&#39;s settings are saved." in page
    assert "The lifetime set here (30 minutes) is more than the sales unit allows." in page
    assert 'value="Fjord Ror"' in page and 'value="#1a6e4f"' in page

    [entry] = await _updates(sessions)
    assert entry.subject_type == "organisation" and entry.subject_id == A
    assert entry.details == {
        "request_lifetime_minutes": "1440 → 30",
        "long_living_approved": "False → True",
        "portal_partial_payments": "False → True",
        "auto_apply_credit": "False → True",
        "sms_sender": "– → Fjord Ror",
        "brand_colour": "– → #1a6e4f",
    }
    assert (await _save(client)).status_code == 303  # the same values: nothing recorded
    assert len(await _updates(sessions)) == 1
    # Unticked boxes and emptied fields turn the settings off again.
    off = await _save(
        client,
        long_living_approved="off",
        portal_partial_payments="off",
        auto_apply_credit="off",
        sms_sender="",
        brand_colour="",
    )
    assert off.status_code == 303
    assert await _settings_of(sessions, A) == {**DEFAULTS, "request_lifetime_minutes": 30}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_lifetime_minutes", "9"),
        ("request_lifetime_minutes", "86401"),
        ("request_lifetime_minutes", "a day"),
        ("request_lifetime_minutes", ""),
        ("sms_sender", "Fjord Ror AS"),  # 12 characters
        ("sms_sender", "Fjord-Ror"),
        ("sms_sender", "123456789012"),  # a number longer than the column
        ("brand_colour", "green"),
        ("brand_colour", "#1a6e4"),
        ("brand_colour", "#1a6e4fa"),
    ],
)
async def test_a_setting_that_breaks_a_rule_is_shown_again_and_nothing_is_saved(
    client: httpx.AsyncClient, sessions: Sessions, field: str, value: str
) -> None:
    await sign_in(client, "owner")
    refused = await _save(client, **{field: value})
    assert refused.status_code == 422
    assert f'data-options-error="{field}"' in refused.text
    assert await _settings_of(sessions, A) == DEFAULTS
    assert await _updates(sessions) == []


async def test_the_bounds_of_the_lifetime_are_allowed(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    await sign_in(client, "owner")
    for minutes in (10, 86400):
        assert (await _save(client, request_lifetime_minutes=str(minutes))).status_code == 303
        assert (await _settings_of(sessions, A))["request_lifetime_minutes"] == minutes
    page = (await client.get("/settings")).text
    assert "60 days" in page


async def test_staff_and_readonly_see_the_settings_and_cannot_change_them(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    for role in ("staff", "readonly"):
        client.cookies.clear()
        await sign_in(client, role)
        page = (await client.get("/settings")).text
        assert "data-options-readonly" in page and "data-options-form" not in page
        assert '<td data-option="sms_sender">payrequest</td>' in page
        assert (await _save(client)).status_code == 403, role
    assert await _settings_of(sessions, A) == DEFAULTS


# --- long-living: the provider client of the organisation's own sales unit ----------------


async def test_long_living_approval_rebuilds_only_that_organisations_client(
    sessions: Sessions, second: int
) -> None:
    box = SecretBox("k" * 32)
    third = await _organisation(sessions, "Tromsø Tre AS", "tromso-tre")
    built: dict[str, bool] = {}
    for organisation, msn in ((second, "222222"), (third, "333333")):
        async with sessions(info=scoped_to(organisation)) as session, session.begin():
            await connections.connect(
                session,
                connections.NewConnection(
                    "vipps",
                    "test",
                    sales_unit(
                        market="NO",
                        merchant_serial_number=msn,
                        client_id="client",
                        client_secret="secret",
                        subscription_key="key",
                    ),
                ),
                box=box,
            )

    def build(stored: StoredAccount, long_living: bool) -> PaymentProvider:
        built[stored.account] = long_living
        return _Closable()  # type: ignore[return-value]

    directory = ProviderDirectory(
        sessions,
        box=box,
        urls=PublicUrls("http://test"),
        build=build,
        installation=_Closable(),  # type: ignore[arg-type]
    )
    await directory.for_organisation(second)
    await directory.for_organisation(third)
    assert built == {"222222": False, "333333": False}
    await h.set_organisation(sessions, second, long_living_approved=True)
    directory.forget(second)  # as Settings does after a save
    await directory.for_organisation(second)
    await directory.for_organisation(third)
    assert built == {"222222": True, "333333": False}


class _Closable:
    name = "vipps"

    async def close(self) -> None:
        return None


async def _organisation(sessions: Sessions, name: str, slug: str) -> int:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        return (await organisations.create(session, NewOrganisation(name=name, slug=slug))).id


# --- part payments and the look of the portal ---------------------------------------------


async def _signed_in(
    http: httpx.AsyncClient, sessions: Sessions, organisation_id: int
) -> tuple[int, str]:
    """A customer of the organisation with an invoice, signed in; the invoice's id and the
    pay form."""
    with acting_for(organisation_id):
        kari = await h.customer(sessions, locale="en")
        invoice = await h.invoice_with_vat(sessions, kari, number=f"S-{organisation_id}")
        await h.sign_in(http, sessions, kari.id)
    form = await http.get(f"/portal/pay?invoice_ids={invoice.id}")
    assert form.status_code == 200
    return invoice.id, form.text


async def test_part_payments_and_the_look_are_the_customers_organisations(
    database_url: str, sessions: Sessions, second: int, tmp_path: Path
) -> None:
    await h.set_organisation(
        sessions, A, name="Fjord Rør AS", portal_partial_payments=True, brand_colour="#1a6e4f"
    )
    async with h.portal_app(database_url, tmp_path) as (_app, http):
        _invoice, form = await _signed_in(http, sessions, A)
        assert 'name="amount"' in form
        assert f'data-business="{A}">Fjord Rør AS</span>' in form
        assert 'href="/portal/brand/1a6e4f.css"' in form and "business-accent" in form
        style = await http.get("/portal/brand/1a6e4f.css")
        assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
        assert "--business-accent: #1a6e4f;" in style.text
        assert style.headers["content-security-policy"] == CSP
        home = await http.get("/portal")
        assert f'data-business="{A}">Fjord Rør AS</span>' in home.text
        assert home.headers["content-security-policy"] == CSP  # nothing widened
    async with h.portal_app(database_url, tmp_path) as (_app, http):
        _invoice, form = await _signed_in(http, sessions, second)
        assert 'name="amount"' not in form
        assert f'data-business="{second}">Bergen Bad AS</span>' in form
        assert "/portal/brand/" not in form and "Fjord Rør" not in form


@pytest.mark.parametrize("colour", ["1A6E4F", "1a6e4", "1a6e4f0", "zzzzzz", "1a6e4f%3B"])
async def test_the_accent_style_sheet_takes_only_a_colour(
    client: httpx.AsyncClient, colour: str
) -> None:
    assert (await client.get(f"/portal/brand/{colour}.css")).status_code == 404


# --- automatic credit ----------------------------------------------------------------------


async def test_credit_is_handed_out_only_where_it_is_automatic(
    sessions: Sessions, second: int
) -> None:
    invoices: dict[int, int] = {}
    for organisation in (A, second):
        async with sessions(info=scoped_to(organisation)) as session, session.begin():
            customer = await make_customer(session)
            await manual.record(
                session,
                data=NewManualPayment(
                    customer_id=customer.id,
                    amount=Money(5_000, "NOK"),
                    received_on=manual.business_today(),
                    method="cash",
                ),
                in_requests=invoices_in_active_requests,
            )
            invoices[organisation] = (await make_invoice(session, customer, amount=3_000)).id
    await h.set_organisation(sessions, second, auto_apply_credit=True)
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        assert await ledger_jobs.hand_out_credit(session) == [second]
    for organisation, on in ((A, False), (second, True)):
        async with sessions(info=scoped_to(organisation)) as session:
            assert await ledger_jobs.switched_on(session) is on


async def test_a_manual_payments_leftover_is_applied_where_credit_is_automatic(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async def pay(customer_name: str) -> int:
        async with sessions() as session, session.begin():
            customer = await make_customer(session, name=customer_name)
            chosen = await make_invoice(session, customer, amount=5_000, due_in_days=9)
            await make_invoice(session, customer, amount=4_000, due_in_days=1)
        token = csrf_of((await client.get(f"/customers/{customer.id}")).text)
        sent = await client.post(
            f"/customers/{customer.id}/payments",
            data={
                "csrf": token,
                "amount": "70",
                "currency": "NOK",
                "method": "cash",
                "received_on": manual.business_today().isoformat(),
                "invoice_ids": str(chosen.id),
            },
        )
        assert sent.status_code == 303, sent.text
        page = (await client.get(f"/customers/{customer.id}")).text
        assert "Payment of NOK\u00a070.00 recorded." in page
        async with sessions() as session:
            return (await ledger_repository.credit_by_currency(session, customer.id)).get("NOK", 0)

    await sign_in(client, "owner")
    assert await pay("Kari") == 2_000  # off: the leftover stays credit
    await h.set_organisation(sessions, A, auto_apply_credit=True)
    assert await pay("Ola") == 0  # on: applied to the other invoice at once


# --- the SMS sender id ---------------------------------------------------------------------


class _Gateway:
    name = "fake"

    def __init__(self) -> None:
        self.senders: list[str | None] = []

    async def send(
        self, *, to: str, text: str, idempotency_key: str, sender: str | None = None
    ) -> SmsReceipt:
        self.senders.append(sender)
        return SmsReceipt(self.name, idempotency_key, to)

    async def close(self) -> None:
        return None


async def test_sms_go_out_with_the_sender_of_the_organisation_they_are_for(
    sessions: Sessions, second: int
) -> None:
    gateway = _Gateway()
    sms = SmsOfTheScope(gateway, sessions)
    await h.set_organisation(sessions, A, sms_sender="FjordRor")

    async def send() -> None:
        await sms.send(to="+4791234567", text="Hei", idempotency_key="k")

    with acting_for(A):
        await send()
        await sms.send(to="+4791234567", text="Hei", idempotency_key="k", sender="Chosen")
    with acting_for(second):
        await send()
    with acting_for(ALL):
        await send()
    assert gateway.senders == ["FjordRor", "Chosen", None, None]  # None: the installation's
    await h.set_organisation(sessions, second, sms_sender="BergenBad")
    with acting_for(second):
        await send()  # cached a few seconds
        sms.forget(second)  # as Settings does after a save
        await send()
    assert gateway.senders[-2:] == [None, "BergenBad"]


async def test_a_portal_link_by_sms_carries_the_sender_of_the_customers_organisation(
    app: FastAPI, client: httpx.AsyncClient, sessions: Sessions, second: int
) -> None:
    """Through the app: a customer of each organisation asks for a portal link on its start
    page; the owner of the first has set a sender id, the second has not."""
    gateway = _Gateway()
    app.state.runtime.sms.gateway = gateway
    await sign_in(client, "owner")
    assert (await _save(client, sms_sender="Fjord Ror")).status_code == 303
    for organisation, slug in ((A, "main"), (second, "bergen-bad")):
        with acting_for(organisation):
            await h.customer(sessions, phone="+4791234567")
        page = await client.get("/portal/start", params={"org": slug})
        asked = await client.post(
            "/portal/start", data={"csrf": csrf_of(page.text), "contact": "91234567", "org": slug}
        )
        assert asked.status_code == 200
    assert gateway.senders == ["Fjord Ror", None]  # None: the installation's
