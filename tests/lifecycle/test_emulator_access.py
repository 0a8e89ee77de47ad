"""The mounted emulator's phone (its pages, SMS inbox and buttons) and its controls answer a
signed-in staff member or the holder of the emulator key only (web.emulator_access); its
Vipps API, the landing page and the QR images stay as they are. Real HTTP to a live server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.config import secret_key
from payrequest.db.scope import ALL, scoped_to
from payrequest.sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MSN,
    DEFAULT_SUBSCRIPTION_KEY,
)
from payrequest.users.models import User
from payrequest.web.emulator_access import KEY_COOKIE, emulator_key
from tests.lifecycle.conftest import SANDBOX, LiveServer
from tests.staff import create_staff, sign_in

PHONE = "4791234567"
HTML = {"Accept": "text/html,application/xhtml+xml"}
# (method, path under the emulator, JSON body): what acts as the customer or steers the emulator
GUARDED: list[tuple[str, str, Any]] = [
    ("GET", "/phone", None),
    ("GET", f"/phone/{PHONE}", None),
    ("GET", f"/phone/{PHONE}/live", None),
    ("GET", f"/phone/{PHONE}/sms", None),
    ("POST", f"/phone/{PHONE}/payments/pr-1/approve", None),
    ("GET", "/faults", None),
    ("PATCH", "/faults", {"latency_ms": 0}),
    ("POST", "/clock/advance", {"seconds": 1}),
    ("GET", "/deliveries", None),
]


@pytest.fixture
def live_options() -> dict[str, Any]:
    return {"run_worker": False}


def _key(live: LiveServer) -> str:
    return emulator_key(secret_key(live.settings))


async def test_an_anonymous_visitor_reaches_neither_the_phone_nor_the_controls(
    live: LiveServer,
) -> None:
    async with httpx.AsyncClient(base_url=live.url + SANDBOX, timeout=15) as http:
        for method, path, body in GUARDED:
            response = await http.request(method, path, json=body)
            assert response.status_code == 403, (method, path, response.status_code)
            assert "emulator key" in response.text
        page = await http.get(f"/phone/{PHONE}", headers=HTML)
        assert page.status_code == 303  # a browser is sent to the staff sign-in, and back
        assert page.headers["location"] == f"/login?next=%2Fsandbox%2Fvipps%2Fphone%2F{PHONE}"
        wrong = await http.get(f"/phone?key={'0' * 32}", headers=HTML)
        assert wrong.status_code == 303 and wrong.headers["location"].startswith("/login")
        assert KEY_COOKIE not in wrong.cookies
        forged = await http.get("/phone", headers={"Cookie": f"{KEY_COOKIE}={'0' * 32}"})
        assert forged.status_code == 403


async def test_the_printed_key_opens_the_phone_and_leaves_the_address(live: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live.url + SANDBOX, timeout=15) as http:
        opened = await http.get(f"/phone/{PHONE}?key={_key(live)}", headers=HTML)
        assert opened.status_code == 303
        assert opened.headers["location"] == f"{SANDBOX}/phone/{PHONE}"  # the key is gone
        cookie = opened.headers["set-cookie"].lower()
        assert f"path={SANDBOX}" in cookie and "httponly" in cookie and "samesite=lax" in cookie
        for method, path, body in GUARDED:
            response = await http.request(method, path, json=body)
            assert response.status_code in (200, 404), (method, path, response.text)
        assert (await http.get(f"/phone/{PHONE}/sms")).json() == []
        # A state change from another site is refused even with the key.
        cross = await http.post(
            f"/phone/{PHONE}/payments/pr-1/approve", headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert cross.status_code == 403


async def test_the_installations_operator_uses_the_phone_and_a_businesss_staff_does_not(
    live: LiveServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The phone shows every organisation's SMS: the operator's, not one business's staff's."""
    await create_staff(sessions, roles=("owner", "readonly"))
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as http:
        await sign_in(http, "owner")
        refused = await http.get(f"{SANDBOX}/phone/{PHONE}/sms")
        assert refused.status_code == 403, refused.text
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        await session.execute(
            update(User).where(User.email == "readonly@example.no").values(is_operator=True)
        )
    async with httpx.AsyncClient(base_url=live.url, timeout=15) as http:
        await sign_in(http, "readonly")
        page = await http.get(f"{SANDBOX}/phone/{PHONE}", headers=HTML)
        assert page.status_code == 200 and f"+{PHONE}" in page.text
        assert (await http.get(f"{SANDBOX}/phone/{PHONE}/sms")).status_code == 200
        await http.post("/logout", data={"csrf": _csrf(await http.get("/customers"))})
        assert (await http.get(f"{SANDBOX}/phone/{PHONE}/sms")).status_code == 403


def _csrf(page: httpx.Response) -> str:
    return page.text.split('name="csrf" value="')[1].split('"')[0]


async def test_the_api_landing_page_and_qr_codes_need_no_key(live: LiveServer) -> None:
    keys = {
        "Ocp-Apim-Subscription-Key": DEFAULT_SUBSCRIPTION_KEY,
        "Merchant-Serial-Number": DEFAULT_MSN,
    }
    async with httpx.AsyncClient(base_url=live.url + SANDBOX, timeout=15) as http:
        token = await http.post(
            "/accesstoken/get",
            headers={
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                **keys,
            },
        )
        assert token.status_code == 200, token.text
        assert (await http.get("/landing?token=nothing")).status_code == 404  # not 403
        assert (await http.get("/qr/nothing.svg")).status_code == 404
        assert (await http.get("/static/phone.js")).status_code == 200
