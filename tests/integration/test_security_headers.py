"""Security headers on every response (web.security_headers): a CSP without inline scripts,
no framing, no sniffing, no referrer to other sites, HSTS when the public URL is https, and
no-store on pages that carry someone's data. The emulator is mounted in sandbox mode only."""

from __future__ import annotations

from pathlib import Path

import httpx
from pydantic import SecretStr

from payrequest.app import create_app
from payrequest.config import VippsSettings, load_settings
from payrequest.kit.urls import SANDBOX
from payrequest.web.security_headers import SWAGGER_CDN
from tests.integration import portal_helpers as h
from tests.integration.portal_helpers import Sessions
from tests.staff import app_client, create_staff, sign_in

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def _assert_protected(response: httpx.Response, *, stored: bool = False) -> None:
    """The headers every answer carries; `stored`: a static file, which may be cached."""
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    headers = response.headers
    assert headers["content-security-policy"] == CSP, where
    assert headers["x-frame-options"] == "DENY", where
    assert headers["x-content-type-options"] == "nosniff", where
    assert headers["referrer-policy"] == "same-origin", where
    if stored:
        assert "no-store" not in headers.get("cache-control", ""), where
    else:
        assert headers["cache-control"] == "no-store", where


async def test_staff_pages_the_sign_in_page_and_a_webhook_answer_carry_the_headers(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    await create_staff(sessions, roles=("staff",))
    async with app_client(database_url, tmp_path) as http:
        login = await http.get("/login")
        assert login.status_code == 200
        _assert_protected(login)
        assert "strict-transport-security" not in login.headers  # http: no HSTS
        webhook = await http.post("/webhooks/vipps", content=b"{}")
        assert webhook.status_code == 401
        _assert_protected(webhook)
        await sign_in(http)
        for path in ("/customers", "/invoices/new", "/requests", "/nowhere"):
            _assert_protected(await http.get(path))
        _assert_protected(await http.get("/static/app.css"), stored=True)
        docs = (await http.get("/api/v1/docs")).headers["content-security-policy"]
        assert f"script-src 'self' 'unsafe-inline' {SWAGGER_CDN};" in docs  # Swagger UI only
        assert "frame-ancestors 'none'" in docs
        for emulator_page in (f"{SANDBOX}/phone", f"{SANDBOX}/phone/4791234567"):
            _assert_protected(await http.get(emulator_page))


async def test_portal_pages_and_a_public_receipt_link_are_not_stored(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    async with h.portal_app(database_url, tmp_path) as (app, http):
        kari = await h.customer(sessions)
        invoice = await h.invoice_with_vat(sessions, kari, number="S-1")
        reference = "pr-headers-001"
        await h.paid_request(sessions, kari, [invoice], amount=111_500, reference=reference)
        start = await http.get("/portal/start")
        _assert_protected(start)
        await h.sign_in(http, sessions, kari.id)
        for path in ("/portal", f"/portal/receipts/{reference}"):
            page = await http.get(path)
            assert page.status_code == 200, path
            _assert_protected(page)
        receipt = await http.get(app.state.runtime.urls.receipt(reference).removeprefix(h.BASE))
        assert receipt.status_code == 200
        _assert_protected(receipt)


async def test_an_https_installation_asks_for_https_only(
    database_url: str, sessions: Sessions, tmp_path: Path
) -> None:
    async with app_client(database_url, tmp_path, base="https://pay.example.no") as http:
        login = await http.get("/login")
        assert login.headers["strict-transport-security"] == "max-age=31536000"
        _assert_protected(login)


async def test_the_emulator_is_not_there_outside_sandbox_mode(
    database_url: str, tmp_path: Path
) -> None:
    vipps = VippsSettings(
        client_id="client-4711",
        client_secret=SecretStr("cs-7f3a9b21d4e8c6f0a5b2"),
        subscription_key=SecretStr("sk-0e1d2c3b4a59687766554433"),
        merchant_serial_number="123456",
    )
    for mode in ("test", "production"):
        settings = load_settings(
            database_url=database_url,
            var_dir=tmp_path,
            public_url="https://pay.example.no",
            provider_mode=mode,
            secret_key="k" * 40,
            vipps=vipps,
        )
        app = create_app(settings, run_worker=False)
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url=settings.public_url) as http:
                for path in ("/phone", "/phone/4791234567/sms", "/faults", "/landing?token=x"):
                    response = await http.get(SANDBOX + path)
                    assert response.status_code == 404, (mode, path, response.status_code)
                token = await http.post(f"{SANDBOX}/accesstoken/get")
                assert token.status_code in (404, 405), (mode, token.status_code)
        finally:
            await app.state.runtime.close()
