"""The inputs that gave a 5xx (issue 13, "Never a 5xx for bad input", and what the property
test in test_no_5xx.py found), each answered with a clear 4xx that changes nothing."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.app import create_app
from payrequest.automations.models import Flow
from payrequest.config import load_settings
from payrequest.customers.models import Customer
from payrequest.tables import metadata
from tests.integration import portal_helpers
from tests.staff import BASE, create_staff, csrf_of, sign_in

Sessions = async_sessionmaker[AsyncSession]
INT4 = 2**31
INT8 = 2**63


@pytest.fixture
async def app(database_url: str, sessions: Sessions, tmp_path: Path) -> AsyncIterator[FastAPI]:
    await create_staff(sessions, roles=("owner",), locale="nb")
    app = create_app(
        load_settings(database_url=database_url, var_dir=tmp_path, public_url=BASE),
        run_worker=False,
    )
    yield app
    await app.state.runtime.close()


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http


@pytest.fixture
async def owner(anonymous: httpx.AsyncClient) -> httpx.AsyncClient:
    await sign_in(anonymous, "owner")
    return anonymous


async def _counts(sessions: Sessions) -> dict[str, int]:
    async with sessions() as session:
        return {
            t.name: int((await session.execute(select(func.count()).select_from(t))).scalar_one())
            for t in metadata.sorted_tables
            if t.name not in ("rate_limit_hits", "audit_log", "sign_in_sessions")
        }


async def _kari(sessions: Sessions) -> Customer:
    return await portal_helpers.customer(sessions, phone="+4791234567")


@pytest.mark.parametrize(
    ("field", "value"), [("email", "not-an-address"), ("phone", "12"), ("phone", "abc")]
)
async def test_editing_a_customer_with_a_bad_email_or_phone_shows_the_form_again(
    owner: httpx.AsyncClient, sessions: Sessions, field: str, value: str
) -> None:
    kari = await _kari(sessions)
    token = csrf_of((await owner.get(f"/customers/{kari.id}/edit")).text)
    form = {"csrf": token, "name": "Kari Endret", "number": "K-9", "country": "NO"}
    form |= {"email": "kari@example.no", "phone": "+4791234567"} | {field: value}
    response = await owner.post(f"/customers/{kari.id}", data=form)
    assert response.status_code == 422, response.text[:300]
    assert "Kari Endret" in response.text  # the form as typed
    async with sessions() as session:
        stored = await session.get(Customer, kari.id)
        assert stored is not None and stored.name == "Kari Nordmann" and stored.number != "K-9"


async def test_an_id_out_of_range_is_not_found(
    owner: httpx.AsyncClient, sessions: Sessions
) -> None:
    token = csrf_of((await owner.get("/customers")).text)
    before = await _counts(sessions)
    for number in (INT4, INT8, 10**30, -1, 0):
        for path in ("/customers/{}", "/invoices/{}", "/requests/{}", "/flows/runs/{}"):
            assert (await owner.get(path.format(number))).status_code == 404, path
        for path in ("/invoices/{}/void", "/requests/{}/cancel", "/customers/{}/portal-link"):
            response = await owner.post(path.format(number), data={"csrf": token})
            assert response.status_code == 404, path
    assert await _counts(sessions) == before


async def test_a_portal_invoice_id_out_of_range_is_not_found(
    anonymous: httpx.AsyncClient, sessions: Sessions
) -> None:
    kari = await _kari(sessions)
    await portal_helpers.sign_in(anonymous, sessions, kari.id)
    assert (await anonymous.get(f"/portal/invoices/{INT4}")).status_code == 404


async def test_a_page_number_out_of_range_is_refused(owner: httpx.AsyncClient) -> None:
    for page in (INT4, INT8, 10**30, -INT8):
        for path in ("/invoices", "/requests"):
            response = await owner.get(path, params={"page": page})
            assert response.status_code == 422, f"{path}?page={page}"
        assert (await owner.get("/customers", params={"page": page})).status_code < 500
    assert (await owner.get("/invoices", params={"customer_id": INT8})).status_code == 422


async def test_a_control_character_in_a_form_is_refused_and_changes_nothing(
    owner: httpx.AsyncClient, sessions: Sessions
) -> None:
    token = csrf_of((await owner.get("/customers/new")).text)
    before = await _counts(sessions)
    for text in ("Kari\x00", "\x00", "Kari\x1b[31m", "a\x7fb"):
        form = {"csrf": token, "name": text, "country": "NO"}
        response = await owner.post("/customers", data=form)
        assert response.status_code == 422
        assert "control character" in html.unescape(response.text) or "kontroll" in response.text
        assert (await owner.get("/customers", params={"q": text})).status_code == 422
    assert await _counts(sessions) == before


async def test_tab_and_new_lines_are_text(owner: httpx.AsyncClient, sessions: Sessions) -> None:
    token = csrf_of((await owner.get("/customers/new")).text)
    data = {"csrf": token, "name": "Kari\tNordmann\r\n", "country": "NO"}
    assert (await owner.post("/customers", data=data)).status_code == 303


async def test_a_control_character_in_json_is_refused(owner: httpx.AsyncClient) -> None:
    token = csrf_of((await owner.get("/customers/new")).text)
    response = await owner.post(
        "/customers",
        content=b'{"name": "Kari\\u0000", "csrf": "' + token.encode() + b'"}',
        headers={"content-type": "application/json", "accept": "application/json"},
    )
    assert response.status_code == 422


async def test_a_flow_amount_bound_that_is_no_amount_is_refused(
    owner: httpx.AsyncClient, sessions: Sessions
) -> None:
    token = csrf_of((await owner.get("/flows/new")).text)
    for bound in ("NaN", "Infinity", "-Infinity", "1e309", "1e20", "-1", "sNaN"):
        for field in ("amount_min", "amount_max"):
            form = {
                "csrf": token,
                "name": "Big ones",
                "trigger": "payment_request.paid",
                field: bound,
                "action_count": "1",
                "a0_kind": "wait",
                "a0_minutes": "5",
            }
            response = await owner.post("/flows/new", data=form)
            assert response.status_code in (400, 422), f"{field}={bound}: {response.status_code}"
    async with sessions() as session:
        assert (await session.scalars(select(Flow).where(Flow.name == "Big ones"))).first() is None
    form |= {"amount_min": "", "amount_max": "100"}
    assert (await owner.post("/flows/new", data=form)).status_code == 303  # the form is good


async def test_a_redirect_to_a_path_with_unicode_is_encoded(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/customers/%C4%80")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/customers/%C4%80"


async def test_the_server_error_page_shows_no_traceback(
    app: FastAPI, anonymous: httpx.AsyncClient
) -> None:
    async def explode() -> None:
        raise RuntimeError("the secret detail of a bug")

    app.add_api_route("/explode", explode)
    app.add_api_route("/api/explode", explode)
    for path in ("/explode", "/api/explode"):
        response = await anonymous.get(path)
        assert response.status_code == 500
        assert "secret detail" not in response.text and "Traceback" not in response.text
        assert "RuntimeError" not in response.text


async def test_an_over_long_sign_in_email_or_portal_contact_is_refused(
    anonymous: httpx.AsyncClient, sessions: Sessions
) -> None:
    """A VARCHAR(200) rate-limit key once made these a 500; now they never reach a lookup."""
    before = await _counts(sessions)
    token = csrf_of((await anonymous.get("/login")).text)
    for length in (189, 300, 100_000):
        email = "e" * length + "@example.no"
        login = await anonymous.post(
            "/login", data={"csrf": token, "email": email, "password": "x"}
        )
        assert login.status_code in (401, 422), length
    token = csrf_of((await anonymous.get("/portal/start")).text)
    for contact in ("e" * 300 + "@example.no", "9" * 300):
        start = await anonymous.post("/portal/start", data={"csrf": token, "contact": contact})
        assert start.status_code == 422
        assert "254" in start.text
    assert await _counts(sessions) == before


async def test_a_nul_in_a_path_is_refused(anonymous: httpx.AsyncClient) -> None:
    """Found by test_no_5xx.py: a NUL in a path (a redirect to sign in carried it) gave 500."""
    for path in ("/credit-applications/a%00b/take-back", "/portal/payments/a%00b"):
        assert (await anonymous.post(path)).status_code < 500
    assert (await anonymous.get("/customers/a%00b")).status_code == 422
    await sign_in(anonymous, "owner")
    assert (await anonymous.get("/customers/a%00b")).status_code == 422


async def test_deep_json_and_files_for_text_fields_are_refused(owner: httpx.AsyncClient) -> None:
    deep = b"[" * 100_000
    nested = b'{"name":' * 5000 + b'"Kari\\u0000"' + b"}" * 5000
    for body in (deep, nested):
        response = await owner.post(
            "/customers", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code < 500
    files = {"name": ("name.txt", b"Kari\x00", "text/plain")}
    token = csrf_of((await owner.get("/customers/new")).text)
    response = await owner.post("/customers", files=files, data={"csrf": token})
    assert response.status_code == 422


async def test_an_id_out_of_range_in_a_form_is_refused(
    app: FastAPI, owner: httpx.AsyncClient, sessions: Sessions
) -> None:
    """Ids sent in forms (`invoice_ids`, `customer_id`) beyond the id columns gave 500."""
    kari = await _kari(sessions)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as portal:
        await portal_helpers.sign_in(portal, sessions, kari.id)
        portal_token = csrf_of((await portal.get("/portal")).text)
        token = csrf_of((await owner.get("/customers")).text)
        invoice = {"number": "F-1", "issue_date": "2026-11-30", "due_date": "2026-12-30"}
        invoice |= {"description": "Work", "quantity": "1", "unit_price": "100", "vat_rate": "25"}
        before = await _counts(sessions)
        for number in (str(INT4), str(INT8), "9" * 30):
            sends = {"csrf": token, "invoice_ids": [number], "method": "qr"}
            response = await owner.post(f"/customers/{kari.id}/requests", data=sends)
            assert response.status_code == 422
            form = {"csrf": token, "customer_id": number} | invoice
            assert (await owner.post("/invoices", data=form)).status_code == 422
            pay = {"csrf": portal_token, "invoice_ids": [number], "method": "qr"}
            assert (await portal.post("/portal/pay", data=pay)).status_code == 422
        assert await _counts(sessions) == before


async def test_a_csrf_token_with_non_ascii_characters_is_refused(
    owner: httpx.AsyncClient, sessions: Sessions
) -> None:
    """Found by test_no_5xx.py: a CSRF token of `٣` gave 500 (compare_digest on text)."""
    before = await _counts(sessions)
    for token in ("٣", "ø" * 32):
        response = await owner.post("/account/language", data={"csrf": token, "language": "da"})
        assert response.status_code == 403
    assert await _counts(sessions) == before
