"""The settings page over HTTP: values from the environment, masked secrets, owner-only
webhook registration, and the webhook test refused where it must be."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.audit.models import AuditEntry
from payrequest.config import Settings, VippsSettings, load_settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.organisations import service as organisations
from payrequest.organisations.service import NewOrganisation
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for
from payrequest.runtime import build_runtime
from tests.staff import BASE, create_staff, csrf_of, sign_in
from tests.unit.vipps_fakes import FakeVipps, Harnesses

HTTPS_BASE = "https://payrequest.example.no"
Sessions = async_sessionmaker[AsyncSession]
CLIENT_SECRET = "cs-7f3a9b21d4e8c6f0a5b2"
SUBSCRIPTION_KEY = "sk-0e1d2c3b4a59687766554433"


def _settings(database_url: str, tmp_path: Path, mode: str = "sandbox") -> Settings:
    vipps = VippsSettings(
        client_id="client-4711",
        client_secret=SecretStr(CLIENT_SECRET),
        subscription_key=SecretStr(SUBSCRIPTION_KEY),
        merchant_serial_number="123456",
        market="DK",
        default_lifetime_minutes=2 * 24 * 60,
        long_living_approved=True,
    )
    extra: dict[str, Any] = {}
    if mode == "production":
        extra = {"secret_key": "k" * 40}
    return load_settings(
        database_url=database_url,
        var_dir=tmp_path,
        public_url=HTTPS_BASE if mode == "production" else BASE,
        provider_mode=mode,
        vipps=vipps,
        **extra,
    )


@pytest.fixture
async def make_client(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """`async with make_client(mode) as http:` a client on an app in that provider mode."""
    apps: list[Any] = []
    await create_staff(sessions)

    def build(mode: str = "sandbox") -> httpx.AsyncClient:
        app = create_app(_settings(database_url, tmp_path, mode))
        apps.append(app)
        base = HTTPS_BASE if mode == "production" else BASE
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)

    yield build
    for app in apps:
        await app.state.runtime.close()


@pytest.fixture
async def client(
    make_client: Callable[[str], httpx.AsyncClient],
) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client("sandbox") as http:
        yield http


_csrf = csrf_of


async def _sign_in(client: httpx.AsyncClient, role: str = "staff") -> str:
    token = _csrf((await client.get("/login")).text)
    await sign_in(client, role)
    return token


async def test_settings_show_values_env_names_and_masked_secrets(
    client: httpx.AsyncClient,
) -> None:
    await _sign_in(client)
    response = await client.get("/settings")
    assert response.status_code == 200
    html = response.text
    assert CLIENT_SECRET not in html and SUBSCRIPTION_KEY not in html
    assert "cs-7••••" in html and "sk-0••••" in html
    assert "client-4711" in html and "123456" in html
    assert "DK · Denmark · DKK" in html
    assert "2 days" in html
    assert 'data-provider-mode="sandbox"' in html
    for name in (
        "PAYREQUEST_PROVIDER_MODE",
        "PAYREQUEST_VIPPS__CLIENT_ID",
        "PAYREQUEST_VIPPS__CLIENT_SECRET",
        "PAYREQUEST_VIPPS__SUBSCRIPTION_KEY",
        "PAYREQUEST_VIPPS__MERCHANT_SERIAL_NUMBER",
        "PAYREQUEST_VIPPS__MARKET",
        "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED",
        "PAYREQUEST_VIPPS__DEFAULT_LIFETIME_MINUTES",
    ):
        assert name in html
    assert f"{BASE}/webhooks/vipps" in html
    assert 'data-webhook-status="missing"' in html  # the app's lifespan did not run here
    # A staff member sees the test button but not the owner's register button.
    assert 'action="/settings/webhook/test"' in html
    assert 'action="/settings/webhook/register"' not in html


async def test_secrets_are_masked_for_every_role(client: httpx.AsyncClient) -> None:
    for role in ("owner", "readonly"):
        client.cookies.clear()
        await _sign_in(client, role)
        html = (await client.get("/settings")).text
        assert CLIENT_SECRET not in html and SUBSCRIPTION_KEY not in html
        assert "cs-7••••" in html
    assert 'action="/settings/webhook/test"' not in html  # read-only: no buttons


async def test_register_webhook_is_owner_only(client: httpx.AsyncClient) -> None:
    for role in ("staff", "readonly"):
        client.cookies.clear()
        await _sign_in(client, role)
        token = _csrf((await client.get("/settings")).text)
        refused = await client.post("/settings/webhook/register", data={"csrf": token})
        assert refused.status_code == 403, role
    client.cookies.clear()
    await _sign_in(client, "owner")
    page = (await client.get("/settings")).text
    assert 'action="/settings/webhook/register"' in page
    no_token = await client.post("/settings/webhook/register")
    assert no_token.status_code == 403


async def test_webhook_test_needs_a_writer_and_a_csrf_token(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "readonly")
    token = _csrf((await client.get("/settings")).text)
    assert (await client.post("/settings/webhook/test", data={"csrf": token})).status_code == 403
    client.cookies.clear()
    await _sign_in(client, "staff")
    assert (await client.post("/settings/webhook/test")).status_code == 403


async def test_webhook_test_without_a_registration_says_so(client: httpx.AsyncClient) -> None:
    await _sign_in(client, "staff")
    token = _csrf((await client.get("/settings")).text)
    response = await client.post("/settings/webhook/test", data={"csrf": token})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/settings")
    html = (await client.get("/settings")).text
    assert f"No webhook is registered for {BASE}/webhooks/vipps" in html


async def test_webhook_test_is_refused_in_production(
    make_client: Callable[[str], httpx.AsyncClient],
) -> None:
    async with make_client("production") as http:
        await _sign_in(http, "owner")
        page = (await http.get("/settings")).text
        assert 'data-provider-mode="production"' in page
        assert CLIENT_SECRET not in page and SUBSCRIPTION_KEY not in page
        assert re.search(r'action="/settings/webhook/test".*?disabled', page, re.S)
        response = await http.post("/settings/webhook/test", data={"csrf": _csrf(page)})
        assert response.status_code == 303
        html = (await http.get("/settings")).text
        assert "not available in production mode" in html


@pytest.fixture
async def production_with_a_foreign_registration(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, FakeVipps]]:
    """The app in production mode on a scripted Vipps MobilePay that lists one registration of
    our address (whose secret we do not hold) and answers nothing else."""
    made = Harnesses()
    harness = made(FakeVipps())
    url = f"{HTTPS_BASE}/webhooks/vipps"
    hooks = {"webhooks": [{"id": "elsewhere-1", "url": url, "events": ["x"]}]}
    harness.fake.on("GET", "/webhooks/v1/webhooks", httpx.Response(200, json=hooks))
    provider = VippsProvider(
        harness.client,
        webhook_url=url,
        capabilities=capabilities_for("DK", long_living=True),
    )
    runtime = build_runtime(_settings(database_url, tmp_path, "production"), provider=provider)
    app = create_app(runtime.settings, runtime=runtime, run_worker=False)
    await create_staff(sessions)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=HTTPS_BASE
    ) as http:
        yield http, harness.fake
    await runtime.close()
    await made.aclose()


async def test_the_check_in_production_tries_no_payment_and_finds_a_foreign_registration(
    production_with_a_foreign_registration: tuple[httpx.AsyncClient, FakeVipps],
) -> None:
    http, fake = production_with_a_foreign_registration
    await _sign_in(http, "staff")
    page = (await http.get("/settings")).text
    checked = html.unescape((await http.post("/settings/check", data={"csrf": _csrf(page)})).text)
    found = dict(re.findall(r'data-finding="([^"]+)" data-finding-ok="(\w+)"', checked))
    assert found == {
        "credentials": "yes",
        "webhook.missing": "no",
        "webhook.foreign": "no",
        "sales_unit.not_tried": "note",
        "captures": "yes",
    }
    assert "whose secret payrequest does not hold: elsewhere-1." in checked
    assert "In production the sales unit is not tried" in checked
    assert fake.api_requests("POST") == []  # no payment was made
    assert "data-remove-foreign" not in checked  # staff may look; only an owner removes
    assert "Only an owner can remove registrations." in checked


# --- the organisation's profile -----------------------------------------------------------


async def _profile_of(sessions: Sessions, organisation_id: int) -> tuple[str, str, str, str]:
    async with sessions(info=scoped_to(ALL)) as session:
        found = await organisations.get(session, organisation_id)
        return found.name, found.organisation_number, found.address, found.default_locale


async def _save_profile(client: httpx.AsyncClient, **values: str) -> httpx.Response:
    token = _csrf((await client.get("/settings")).text)
    form = {
        "name": "Fjord Rør AS",
        "organisation_number": "NO 912 345 678 MVA",
        "address": "Storgata 1, 0155 Oslo",
        "default_locale": "da",
        **values,
    }
    return await client.post("/settings/organisation", data={"csrf": token, **form})


async def test_an_owner_edits_the_organisations_profile_recorded_in_the_audit_log(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        other = await organisations.create(
            session, NewOrganisation(name="Bergen Bad AS", slug="bergen-bad", address="Bryggen 2")
        )
    await _sign_in(client, "owner")
    page = (await client.get("/settings")).text
    assert "data-profile-form" in page and 'value="My business"' in page
    assert "NO · Norway · NOK" in page
    saved = await _save_profile(client)
    assert saved.status_code == 303 and saved.headers["location"] == "/settings#organisation"
    page = (await client.get("/settings")).text
    assert "The organisation&#39;s profile is saved." in page
    assert 'value="NO 912 345 678 MVA"' in page and 'value="Storgata 1, 0155 Oslo"' in page
    assert 'data-organisation="1">Fjord Rør AS</span>' in page  # the header has the new name
    assert await _profile_of(sessions, 1) == (
        "Fjord Rør AS",
        "NO 912 345 678 MVA",
        "Storgata 1, 0155 Oslo",
        "da",
    )
    assert await _profile_of(sessions, other.id) == ("Bergen Bad AS", "", "Bryggen 2", "nb")
    again = await _save_profile(client)  # the same values: nothing to record
    assert again.status_code == 303
    async with sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "organisation.update")
            )
        )
    assert len(entries) == 1
    assert entries[0].subject_type == "organisation" and entries[0].subject_id == 1
    assert entries[0].details == {
        "name": "My business → Fjord Rør AS",
        "organisation_number": "– → NO 912 345 678 MVA",
        "address": "– → Storgata 1, 0155 Oslo",
        "default_locale": "nb → da",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 101),
        ("name", "Fjord\nRør"),
        ("organisation_number", "912/345"),
        ("organisation_number", "9" * 31),
        ("address", "Storgata 1\r\n0155 Oslo"),
        ("address", "x" * 201),
        ("default_locale", "sv"),
    ],
)
async def test_a_profile_that_breaks_a_rule_is_shown_again_and_nothing_is_saved(
    client: httpx.AsyncClient, sessions: Sessions, field: str, value: str
) -> None:
    await _sign_in(client, "owner")
    refused = await _save_profile(client, **{field: value})
    assert refused.status_code == 422
    assert f'data-profile-error="{field}"' in refused.text
    assert await _profile_of(sessions, 1) == ("My business", "", "", "nb")
    async with sessions() as session:
        assert not list(
            await session.scalars(
                select(AuditEntry.id).where(AuditEntry.action == "organisation.update")
            )
        )


async def test_staff_and_readonly_see_the_profile_and_cannot_change_it(
    client: httpx.AsyncClient, sessions: Sessions
) -> None:
    for role in ("staff", "readonly"):
        client.cookies.clear()
        await _sign_in(client, role)
        page = (await client.get("/settings")).text
        assert "data-profile-readonly" in page and "data-profile-form" not in page
        assert '<td data-profile="name">My business</td>' in page
        assert (await _save_profile(client)).status_code == 403, role
    assert await _profile_of(sessions, 1) == ("My business", "", "", "nb")
