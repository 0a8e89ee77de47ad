"""Settings → Webhook endpoints over HTTP against the real app, on SQLite and PostgreSQL, with a
real receiver on loopback: an owner adds an endpoint (the secret shown on that one answer
only), sends a test event, reads the delivery log, resends, makes a new secret, switches the
endpoint off and deletes it; bad input is refused in the reader's language and changes
nothing; other roles are refused."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.audit.models import AuditEntry
from payrequest.config import load_settings
from payrequest.webhooks.models import WebhookEndpoint
from tests.integration.webhook_receiver import receiving
from tests.staff import BASE, client_from, create_staff, csrf_of, once_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
PAGE = "/settings/webhook-endpoints"
SECRET = re.compile(r'id="new-secret" readonly value="(whsec_[A-Za-z0-9+/=]{32})"')


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    application = create_app(
        load_settings(
            database_url=database_url,
            var_dir=tmp_path,
            public_url=BASE,
            automations={"webhook_allow": ["127.0.0.1"]},  # the receiver is on loopback
        ),
        run_worker=False,
    )
    await create_staff(sessions, locale="nb")  # the pages speak Norwegian
    yield application
    await application.state.runtime.close()


@asynccontextmanager
async def _client(app: FastAPI, role: str) -> AsyncIterator[httpx.AsyncClient]:
    async with client_from(app) as client:
        await sign_in(client, role)
        yield client


async def _endpoint_id(sessions: Sessions) -> int:
    async with sessions() as session:
        return (await session.execute(select(WebhookEndpoint.id))).scalar_one()


async def test_an_owner_adds_tests_resends_rotates_switches_off_and_deletes(
    app: FastAPI, sessions: Sessions
) -> None:
    async with _client(app, "owner") as owner, receiving() as receiver:
        settings = await owner.get("/settings")
        assert f'href="{PAGE}"' in settings.text
        empty = await owner.get(PAGE)
        assert empty.status_code == 200 and "data-no-webhook-endpoints" in empty.text
        made = await owner.post(
            PAGE,
            data={
                "csrf": csrf_of(empty.text),
                "url": receiver.url(),
                "description": "Regnskap",
                "event_types": ["invoice.paid", "payment_request.paid"],
                "once": once_of(empty.text),
            },
        )
        assert made.status_code == 200, made.text
        found = SECRET.search(made.text)
        assert found, made.text
        secret = found.group(1)
        listed = await owner.get(PAGE)
        assert receiver.url() in listed.text and secret not in listed.text
        endpoint_id = await _endpoint_id(sessions)
        detail = await owner.get(f"{PAGE}/{endpoint_id}")
        assert "En faktura er betalt i sin helhet" in detail.text  # the types, in Norwegian
        assert secret not in detail.text and "data-no-webhook-deliveries" in detail.text

        tested = await owner.post(f"{PAGE}/{endpoint_id}/test", data={"csrf": csrf_of(detail.text)})
        assert tested.status_code == 303
        after_test = await owner.get(f"{PAGE}/{endpoint_id}")
        assert "Levert: endepunktet svarte 200." in after_test.text
        [first] = receiver.received
        assert first.verified(secret)["type"] == "webhook_endpoint.test"
        assert 'data-status="delivered"' in after_test.text and "HTTP 200" in after_test.text
        delivery_id = re.search(r'data-webhook-delivery="(\d+)"', after_test.text)
        assert delivery_id

        receiver.answers = [500]
        resent = await owner.post(
            f"{PAGE}/{endpoint_id}/deliveries/{delivery_id.group(1)}/resend",
            data={"csrf": csrf_of(after_test.text)},
        )
        assert resent.status_code == 303
        after_resend = await owner.get(f"{PAGE}/{endpoint_id}")
        assert "Ikke levert:" in after_resend.text and "HTTP 500" in after_resend.text
        # the row's summary: two tries, the last answered 500
        last_try = re.search(r"<summary data-last-try>([^<]*)</summary>", after_resend.text)
        assert last_try and last_try.group(1).startswith("2 · HTTP 500, ")
        assert receiver.received[1].headers["webhook-id"] == first.headers["webhook-id"]

        rotation = {"csrf": csrf_of(after_resend.text), "once": once_of(after_resend.text)}
        rotated = await owner.post(f"{PAGE}/{endpoint_id}/rotate", data=rotation)
        assert rotated.status_code == 200
        new = SECRET.search(rotated.text)
        assert new and new.group(1) != secret
        # A reload sends the rotation again: nothing rotates, the endpoint's page instead.
        again = await owner.post(f"{PAGE}/{endpoint_id}/rotate", data=rotation)
        assert again.status_code == 303
        assert "Det skjemaet er sendt allerede" in (await owner.get(again.headers["location"])).text
        await owner.post(f"{PAGE}/{endpoint_id}/test", data={"csrf": csrf_of(rotated.text)})
        both = receiver.received[2]
        both.verified(secret)  # the previous secret signs for a day yet
        both.verified(new.group(1))

        off = await owner.post(
            f"{PAGE}/{endpoint_id}",
            data={
                "csrf": csrf_of(rotated.text),
                "url": receiver.url(),
                "description": "Regnskap",
                "event_types": ["invoice.paid"],
            },
        )
        assert off.status_code == 303
        switched = await owner.get(f"{PAGE}/{endpoint_id}")
        assert 'data-status="disabled"' in switched.text
        refused = await owner.post(
            f"{PAGE}/{endpoint_id}/test", data={"csrf": csrf_of(switched.text)}
        )
        assert refused.status_code == 303
        assert (
            "Slå på endepunktet før du sender til det"
            in (await owner.get(PAGE + f"/{endpoint_id}")).text
        )
        assert len(receiver.received) == 3

        deleted = await owner.post(
            f"{PAGE}/{endpoint_id}/delete", data={"csrf": csrf_of(switched.text)}
        )
        assert deleted.status_code == 303
        assert (await owner.get(f"{PAGE}/{endpoint_id}")).status_code == 404
    async with sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert [a for a in actions if a.startswith("webhook_endpoint.")] == [
        "webhook_endpoint.create",
        "webhook_endpoint.rotate_secret",
        "webhook_endpoint.update",
        "webhook_endpoint.delete",
    ]


async def test_bad_input_is_refused_in_the_readers_language_and_changes_nothing(
    app: FastAPI, sessions: Sessions
) -> None:
    async with _client(app, "owner") as owner:
        page = await owner.get(PAGE)
        private = await owner.post(
            PAGE,
            data={"csrf": csrf_of(page.text), "url": "http://10.1.2.3/hook",
                  "event_types": ["invoice.paid"], "once": "t1"},
        )  # fmt: skip
        assert private.status_code == 422
        assert "en lokal, privat, link-local- eller metadata-adresse" in private.text
        assert 'data-webhook-error="url"' in private.text
        untyped = await owner.post(
            PAGE, data={"csrf": csrf_of(page.text), "url": "http://127.0.0.1:9/hook", "once": "t2"}
        )
        assert untyped.status_code == 422 and "Velg minst én hendelsestype" in untyped.text
        unknown = await owner.post(
            PAGE,
            data={"csrf": csrf_of(page.text), "url": "http://127.0.0.1:9/hook",
                  "event_types": ["invoice.deleted"], "once": "t3"},
        )  # fmt: skip
        assert unknown.status_code == 422 and "Ukjent hendelsestype" in unknown.text
        assert (await owner.get(f"{PAGE}/2147483648")).status_code == 404
        assert (await owner.get(f"{PAGE}/12345")).status_code == 404
    async with sessions() as session:
        assert (await session.execute(select(func.count(WebhookEndpoint.id)))).scalar_one() == 0


@pytest.mark.parametrize("role", ["staff", "readonly"])
async def test_only_owners_reach_the_webhook_endpoints(app: FastAPI, role: str) -> None:
    async with _client(app, role) as client:
        assert (await client.get(PAGE)).status_code == 403
        page = await client.get("/settings")
        assert f'href="{PAGE}"' not in page.text
        refused = await client.post(
            PAGE,
            data={"csrf": csrf_of(page.text), "url": "http://127.0.0.1:9/",
                  "event_types": ["invoice.paid"]},
        )  # fmt: skip
        assert refused.status_code == 403
