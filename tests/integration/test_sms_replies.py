"""A customer replies STOP to an SMS: every customer with that number, in every organisation,
is opted out of reminders (issue 18). Through GatewayAPI's signed MO SMS webhook and through
the emulator phone's Reply form, over HTTP to the real app."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit.models import AuditEntry
from payrequest.config import secret_key
from payrequest.customers import service as customer_service
from payrequest.customers.models import Customer
from payrequest.customers.replies import OPTED_OUT_BY_SMS, stop_word
from payrequest.db.scope import ALL, scoped_to
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.web import emulator_access
from tests.conftest import TEST_ORGANISATION
from tests.factories import make_customer
from tests.staff import BASE, built_app, create_staff, sign_in

Sessions = async_sessionmaker[AsyncSession]
SECRET = "the-authentication-token-we-chose-at-gatewayapi-0123456789"
URL = "/webhooks/sms/gatewayapi"
PHONE = "+4791234567"
OTHER_PHONE = "+4791234568"


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    a: int  # the test organisation
    b: int  # a second one
    same_phone: list[int]  # customers with PHONE: one in A, one in B
    others: list[int]  # a customer of A with another number, one of B without a number


@pytest.fixture
async def world(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[World]:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        b = (await organisations.create(session, NewOrganisation(name="Bee AS", slug="bee"))).id
    same, others = [], []
    for organisation in (TEST_ORGANISATION, b):
        async with sessions(info=scoped_to(organisation)) as session, session.begin():
            same.append((await make_customer(session, name="Kari", phone=PHONE)).id)
            other = await make_customer(
                session, name="Ola", phone=OTHER_PHONE if organisation == TEST_ORGANISATION else ""
            )
            others.append(other.id)
    await create_staff(sessions, roles=("owner",))
    async with (
        built_app(database_url, tmp_path, run_worker=False, sms={"webhook_secret": SECRET}) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
    ):
        yield World(app, client, TEST_ORGANISATION, b, same, others)


def mo_sms(message: str, *, msisdn: int = 4791234567, message_id: int = 1000001) -> dict[str, Any]:
    """An incoming SMS as GatewayAPI's documentation describes the webhook's body."""
    return {
        "id": message_id,
        "msisdn": msisdn,
        "receiver": 4560575797,
        "message": message,
        "senttime": 1_750_000_000,
        "webhook_label": "payrequest",
    }


def signed(body: dict[str, Any], secret: str = SECRET) -> dict[str, str]:
    """The request's headers, the JWT made as GatewayAPI makes it (HS256, the body's fields)."""
    return {
        "Content-Type": "application/json",
        "X-Gwapi-Signature": jwt.encode(body, secret, algorithm="HS256"),
    }


async def post(client: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await client.post(URL, content=json.dumps(body), headers=headers)


async def states(sessions: Sessions) -> dict[int, str]:
    async with sessions(info=scoped_to(ALL)) as session:
        return {c.id: c.reminders for c in await session.scalars(select(Customer))}


async def sms_entries(sessions: Sessions) -> list[AuditEntry]:
    async with sessions(info=scoped_to(ALL)) as session:
        query = select(AuditEntry).where(AuditEntry.action == OPTED_OUT_BY_SMS)
        return list(await session.scalars(query.order_by(AuditEntry.id)))


async def test_a_signed_stopp_opts_out_that_number_in_every_organisation(
    world: World, sessions: Sessions
) -> None:
    async with sessions(info=scoped_to(world.b)) as session, session.begin():
        paused = world.same_phone[1]
        await customer_service.set_reminders(session, customer_id=paused, state="paused")
    body = mo_sms("Stopp")
    response = await post(world.client, body, **signed(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "stop"}
    after = await states(sessions)
    assert [after[c] for c in world.same_phone] == ["opted_out", "opted_out"]
    assert [after[c] for c in world.others] == ["on", "on"]
    entries = await sms_entries(sessions)
    assert {(e.organisation_id, e.subject_id) for e in entries} == {
        (world.a, world.same_phone[0]),
        (world.b, world.same_phone[1]),
    }
    by_customer = {e.subject_id: e.details for e in entries}
    assert by_customer[world.same_phone[1]]["reminders"] == ["paused", "opted_out"]
    assert by_customer[world.same_phone[0]]["message_id"] == "1000001"
    assert "91234567" not in json.dumps(by_customer)  # the number is masked

    # The same message again (GatewayAPI retries until it hears 2xx): nothing more changes.
    again = await post(world.client, body, **signed(body))
    assert again.status_code == 200
    assert await states(sessions) == after
    assert len(await sms_entries(sessions)) == 2


async def test_the_card_says_the_customer_opted_out_by_sms(
    world: World, sessions: Sessions
) -> None:
    body = mo_sms("STOP please")
    assert (await post(world.client, body, **signed(body))).status_code == 200
    await sign_in(world.client, "owner")
    card = await world.client.get(f"/customers/{world.same_phone[0]}")
    assert card.status_code == 200
    assert 'data-reminders="opted_out"' in card.text
    assert 'data-opted-out-by="sms"' in card.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Gwapi-Signature": "not-a-jwt"},
        "wrong secret",
        "none algorithm",
        "other body",
    ],
    ids=["missing", "garbage", "wrong-secret", "alg-none", "signed-another-message"],
)
async def test_an_unsigned_or_badly_signed_reply_is_refused_and_changes_nothing(
    world: World, sessions: Sessions, headers: Any
) -> None:
    body = mo_sms("STOP")
    if headers == "wrong secret":
        headers = signed(body, "another-secret-of-somebody-else-0123456789")
    elif headers == "none algorithm":
        headers = {"X-Gwapi-Signature": jwt.encode(body, "", algorithm="none")}
    elif headers == "other body":  # a genuine signature of another message, replayed
        headers = signed(mo_sms("Thanks!", msisdn=4791234568, message_id=999))
    before = await states(sessions)
    response = await post(world.client, body, **headers)
    assert response.status_code == 401
    assert await states(sessions) == before
    assert await sms_entries(sessions) == []


@pytest.mark.parametrize("text", ["Thanks, paid today", "stopwatch", "", "Please STOP"])
async def test_a_reply_without_a_stop_word_first_changes_nothing(
    world: World, sessions: Sessions, text: str
) -> None:
    body = mo_sms(text)
    before = await states(sessions)
    response = await post(world.client, body, **signed(body))
    assert response.status_code == 200
    assert response.json() == {"status": "ignored"}
    assert await states(sessions) == before


async def test_without_a_configured_secret_the_address_is_not_there(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    body = mo_sms("STOP")
    async with (
        built_app(database_url, tmp_path, run_worker=False) as app,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client,
    ):
        response = await post(client, body, **signed(body))
    assert response.status_code == 404


def test_the_stop_words() -> None:
    assert [stop_word(t) for t in ("stop", "Stopp!", "AFMELD tak", "avmeld", "Unsubscribe.")] == [
        "STOP",
        "STOPP",
        "AFMELD",
        "AVMELD",
        "UNSUBSCRIBE",
    ]
    assert [stop_word(t) for t in ("", "  ", "stopp-ur", "ok stop")] == [None] * 4


async def test_a_reply_on_the_emulators_phone_opts_out_the_same_way(
    world: World, sessions: Sessions
) -> None:
    client, msisdn = world.client, PHONE.removeprefix("+")
    key = emulator_access.emulator_key(secret_key(world.app.state.runtime.settings))
    assert (await client.get(f"/sandbox/vipps/phone?key={key}")).status_code == 303
    sms = {"sender": "payrequest", "text": "A reminder", "idempotency_key": "reminder-1"}
    sent = await client.post(f"/sandbox/vipps/phone/{msisdn}/sms", json=sms)
    assert sent.status_code == 201
    page = (await client.get(f"/sandbox/vipps/phone/{msisdn}")).text
    action = re.search(r'action="([^"]+/reply)"', page)
    assert action is not None and 'name="text" value="STOP"' in page
    # Another text first: kept on the phone, changes nothing.
    other = await client.post(action.group(1), data={"text": "Who is this?"})
    assert other.status_code == 200 and "Who is this?" in other.text
    assert (await states(sessions))[world.same_phone[0]] == "on"
    replied = await client.post(action.group(1), data={"text": "STOP"})
    assert replied.status_code == 200 and "Received" in replied.text
    after = await states(sessions)
    assert [after[c] for c in world.same_phone] == ["opted_out", "opted_out"]
    assert [after[c] for c in world.others] == ["on", "on"]
    assert {e.details["gateway"] for e in await sms_entries(sessions)} == {"sandbox"}
    # Another phone's message cannot be answered from this phone.
    wrong = action.group(1).replace(msisdn, "4791234568")
    assert (await client.post(wrong, data={"text": "STOP"})).status_code == 404
