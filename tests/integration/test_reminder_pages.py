"""Reminders on the pages: the customer card shows the next steps of the switched-on
time-triggered flows and those already sent; staff pause and resume a customer's reminders
(read-only staff may not); the customer opts out in the portal and back in, and the card says
so. SQLite and PostgreSQL, the real app in-process."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import notices, service, timing
from payrequest.automations.schedule import scan, time_flows
from payrequest.customers.models import Customer
from payrequest.kit.crypto import SecretBox
from tests.factories import TODAY, make_invoice
from tests.integration import portal_helpers
from tests.staff import client_from, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]


def _items(page: str, marker: str) -> list[str]:
    found = re.search(rf"<ul[^>]*{marker}[^>]*>(.*?)</ul>", page, re.S)
    if not found:
        return []
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
        for item in re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), re.S)
    ]


async def _state(sessions: Sessions, customer_id: int) -> str:
    async with sessions() as session:
        return (await session.get_one(Customer, customer_id)).reminders


async def test_the_card_shows_what_comes_and_staff_pause_while_the_customer_opts_out(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    await create_staff(sessions, roles=("staff", "readonly"))
    customer = await portal_helpers.customer(sessions)
    async with sessions() as session, session.begin():
        invoice = await make_invoice(session, customer, amount=50_000, number="R-1", due_in_days=5)
        invoice_id = invoice.id
        draft = service.Draft(
            name="Tre dager før",
            trigger=timing.INVOICE_DUE,
            actions=[{"kind": "sms", "config": {"to": "customer", "text": "Husk {{ amount }}"}}],
            timing={"days": 3, "missed": "late", "quiet_hours": True, "weekends": False},
        )
        flow = await service.save(session, draft=draft, box=SecretBox("test key"), allow=())
        await service.set_enabled(session, flow_id=flow.id, enabled=True)

    async with portal_helpers.portal_app(database_url, tmp_path) as (app, portal):
        staff = client_from(app, "198.51.100.7")
        await sign_in(staff, "staff")
        card = (await staff.get(f"/customers/{customer.id}")).text
        [upcoming] = _items(card, "data-reminders-next")
        assert "Tre dager før" in upcoming and "R-1" in upcoming
        # its day: three days before the due date, as the reader writes a date
        assert str((TODAY + timedelta(days=2)).day) in upcoming

        invoice_page = (await staff.get(f"/invoices/{invoice_id}")).text
        [step] = _items(invoice_page, "data-invoice-reminders")
        assert "Tre dager før" in step
        held = await staff.post(
            f"/invoices/{invoice_id}/reminders",
            data={"csrf": csrf_of(invoice_page), "paused": "true"},
        )
        assert held.status_code == 303
        invoice_page = (await staff.get(f"/invoices/{invoice_id}")).text
        assert (
            'data-reminders-paused="yes"' in invoice_page
            and "Reminders are paused." in invoice_page
        )

        paused = await staff.post(
            f"/customers/{customer.id}/reminders", data={"csrf": csrf_of(card), "state": "paused"}
        )
        assert paused.status_code == 303
        assert await _state(sessions, customer.id) == "paused"
        card = (await staff.get(f"/customers/{customer.id}")).text
        assert "Reminders are paused." in card and 'value="on"' in card

        readonly = client_from(app, "198.51.100.8")
        await sign_in(readonly, "readonly")
        refused = await readonly.post(
            f"/customers/{customer.id}/reminders", data={"csrf": csrf_of(card), "state": "on"}
        )
        assert refused.status_code == 403 and await _state(sessions, customer.id) == "paused"

        await portal_helpers.sign_in(portal, sessions, customer.id)
        home = (await portal.get("/portal")).text
        assert "Ingen påminnelser, takk" in home  # the customer reads Norwegian
        await portal.post("/portal/reminders", data={"csrf": csrf_of(home), "state": "opted_out"})
        assert await _state(sessions, customer.id) == "opted_out"
        home = (await portal.get("/portal")).text
        assert "Påminn meg igjen" in home
        card = (await staff.get(f"/customers/{customer.id}")).text
        assert 'data-reminders="opted_out"' in card and "opted out of reminders" in card
        assert 'name="state" value="paused"' not in card  # only the customer switches it on
        await portal.post("/portal/reminders", data={"csrf": csrf_of(home), "state": "on"})
        assert await _state(sessions, customer.id) == "on"


async def test_a_note_a_flow_left_shows_on_the_card_until_a_staff_member_marks_it_done(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    await create_staff(sessions, roles=("staff", "readonly"))
    customer = await portal_helpers.customer(sessions)
    async with sessions() as session, session.begin():
        notice = await notices.leave(
            session,
            customer_id=customer.id,
            flow_run_id=None,
            title="Kari Nordmann har ikke betalt faktura R-9",
            text="Skylder fortsatt 500,00 kr.\nPå tide å ringe?",
        )
        notice_id = notice.id
    async with portal_helpers.portal_app(database_url, tmp_path) as (app, _portal):
        readonly = client_from(app, "198.51.100.8")
        await sign_in(readonly, "readonly")
        seen = (await readonly.get(f"/customers/{customer.id}")).text
        assert "har ikke betalt faktura R-9" in seen and "/done" not in seen  # looks only
        refused = await readonly.post(
            f"/customers/{customer.id}/notices/{notice_id}/done", data={"csrf": csrf_of(seen)}
        )
        assert refused.status_code == 403

        staff = client_from(app, "198.51.100.7")
        await sign_in(staff, "staff")
        card = (await staff.get(f"/customers/{customer.id}")).text
        assert f'data-notice="{notice_id}"' in card
        wrong = await staff.post(
            f"/customers/{customer.id + 1}/notices/{notice_id}/done",
            data={"csrf": csrf_of(card)},
        )
        assert wrong.status_code == 303  # another customer's address: nothing done
        assert f'data-notice="{notice_id}"' in (await staff.get(f"/customers/{customer.id}")).text
        done = await staff.post(
            f"/customers/{customer.id}/notices/{notice_id}/done", data={"csrf": csrf_of(card)}
        )
        assert done.status_code == 303
        assert "data-notices" not in (await staff.get(f"/customers/{customer.id}")).text


async def test_the_flow_page_says_which_steps_were_skipped_and_why(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    """A step skipped for a customer who opted out has no run: the flow's page lists it."""
    await create_staff(sessions, roles=("staff",))
    customer = await portal_helpers.customer(sessions)
    async with sessions() as session, session.begin():
        invoice = await make_invoice(session, customer, amount=50_000, number="R-9", due_in_days=3)
        draft = service.Draft(
            name="Tre dager før",
            trigger=timing.INVOICE_DUE,
            actions=[{"kind": "sms", "config": {"to": "customer", "text": "Husk {{ amount }}"}}],
            timing={"days": 3, "missed": "late", "quiet_hours": False, "weekends": True},
        )
        flow = await service.save(session, draft=draft, box=SecretBox("test key"), allow=())
        await service.set_enabled(session, flow_id=flow.id, enabled=True)
        (await session.get_one(Customer, customer.id)).reminders = "opted_out"
        flow_id, invoice_id = flow.id, invoice.id
    async with sessions() as session:
        flows = await time_flows(session)
    assert await scan(sessions, flows, now=datetime.now(UTC)) == 0  # no event: skipped

    async with portal_helpers.portal_app(database_url, tmp_path) as (app, _portal):
        staff = client_from(app, "198.51.100.9")
        await sign_in(staff, "staff")
        page = (await staff.get(f"/flows/{flow_id}")).text
    table = re.search(r"<table[^>]*data-skipped[^>]*>(.*?)</table>", page, re.S)
    assert table is not None
    assert f'href="/invoices/{invoice_id}">R-9' in table.group(1)
    assert "The customer opted out of reminders" in table.group(1)
