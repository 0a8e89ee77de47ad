"""Long-living payment requests (`expiresAt`): which flows may set it, its window, and how the
phone shows when a request expires (date and time for a long-living one, a countdown for a
standard 10-minute one)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.sandbox.helpers import RECEIPT, Api, LiveServer, error_code, fetch_token, new_reference

PHONE = "4791234567"


def _at(delta: timedelta) -> datetime:
    return (datetime.now(UTC) + delta).replace(second=0, microsecond=0)


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _oslo(moment: datetime) -> str:
    """How the phone writes a moment for a Norwegian sales unit: `14 Mar 2026, 16:30 CET`."""
    local = moment.astimezone(ZoneInfo("Europe/Oslo"))
    return f"{local.day} {local:%b %Y, %H:%M %Z}"


def _card(live: str, reference: str) -> str:
    """The HTML of one request card on the phone: up to the next card."""
    start = live.index(f'data-reference="{reference}"')
    end = live.find("data-reference=", start + 1)
    return live[start : end if end > 0 else len(live)]


async def _long_living(api: Api, expires: datetime, **overrides: Any) -> httpx.Response:
    return await api.create(
        new_reference(), expiresAt=_rfc3339(expires), receipt=RECEIPT, **overrides
    )


@pytest.mark.parametrize(
    ("flow", "overrides"),
    [
        ("PUSH_MESSAGE", {}),
        ("QR", {"customer": None, "qrFormat": {"format": "TEXT/TARGETURL"}}),
    ],
)
async def test_push_message_and_qr_may_live_long(
    api: Api, flow: str, overrides: dict[str, Any]
) -> None:
    response = await _long_living(api, _at(timedelta(hours=23)), userFlow=flow, **overrides)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("flow", "overrides"),
    [
        ("WEB_REDIRECT", {"customer": None, "returnUrl": "https://shop.example/done"}),
        ("NATIVE_REDIRECT", {"returnUrl": "https://shop.example/done"}),
    ],
)
async def test_redirect_flows_may_not(api: Api, flow: str, overrides: dict[str, Any]) -> None:
    response = await _long_living(api, _at(timedelta(hours=2)), userFlow=flow, **overrides)
    assert response.status_code == 400, response.text
    assert error_code(response) is None
    assert response.json()["extraDetails"][0]["name"] == "expiresAt"


async def test_the_window_edges_for_norway(api: Api) -> None:
    assert (await _long_living(api, _at(timedelta(minutes=12)))).status_code == 201
    assert (await _long_living(api, _at(timedelta(hours=23, minutes=58)))).status_code == 201
    assert error_code(await _long_living(api, _at(timedelta(minutes=9)))) == "6120"
    assert error_code(await _long_living(api, _at(timedelta(hours=24, minutes=2)))) == "6110"
    no_receipt = await api.create(expiresAt=_rfc3339(_at(timedelta(hours=2))))
    assert error_code(no_receipt) == "6130"


async def test_phone_shows_date_and_time_or_a_countdown(
    api: Api, client: httpx.AsyncClient
) -> None:
    expires = _at(timedelta(hours=20))
    long_reference = new_reference()
    created = await api.create(long_reference, expiresAt=_rfc3339(expires), receipt=RECEIPT)
    assert created.status_code == 201
    short_reference = new_reference()
    assert (await api.create(short_reference)).status_code == 201
    live = (await client.get(f"/phone/{PHONE}/live")).text
    long_card, short_card = _card(live, long_reference), _card(live, short_reference)
    assert f">{_oslo(expires)}</time>" in long_card
    assert "data-remaining-ms" not in long_card
    assert "Expires in <span data-remaining-ms=" in short_card


async def test_phone_shows_expiry_in_a_browser(page: Any, live_server: LiveServer) -> None:
    from playwright.async_api import expect

    async with httpx.AsyncClient(base_url=live_server.base) as http:
        api = Api(http, await fetch_token(http))
        expires = _at(timedelta(hours=20))
        long_reference, short_reference = new_reference(), new_reference()
        await api.create(long_reference, expiresAt=_rfc3339(expires), receipt=RECEIPT)
        await api.create(short_reference)
    await page.goto(f"{live_server.base}/phone/{PHONE}")
    long_card = page.locator(f'.card.request[data-reference="{long_reference}"]')
    await expect(long_card.locator(".meta").first).to_have_text(f"Expires {_oslo(expires)}")
    short_card = page.locator(f'.card.request[data-reference="{short_reference}"]')
    await expect(short_card.locator("[data-remaining-ms]")).to_have_text(
        re.compile(r"^\d+m \d\ds$")
    )
