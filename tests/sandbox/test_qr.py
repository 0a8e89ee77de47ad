"""QR payments: the QR image is a standalone image a browser shows, and with
`qrFormat: TEXT/TARGETURL` the create answer's `redirectUrl` is the link the QR code encodes
(the landing page), which a person opens on a phone to approve."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.sandbox.helpers import Api, LiveServer, fetch_token, new_reference

PHONE = "4791234567"
SVG_NS = "{http://www.w3.org/2000/svg}"


async def _qr_payment(api: Api, fmt: str, reference: str | None = None) -> httpx.Response:
    response = await api.create(
        reference or new_reference(),
        userFlow="QR",
        customer=None,
        qrFormat={"format": fmt},
        customerInteraction="CUSTOMER_PRESENT",
    )
    assert response.status_code == 201, response.text
    return response


async def test_svg_qr_is_a_standalone_svg_document(api: Api, client: httpx.AsyncClient) -> None:
    url = (await _qr_payment(api, "IMAGE/SVG+XML")).json()["redirectUrl"]
    image = await client.get(url)
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(image.content)  # noqa: S314 - our own emulator's answer
    assert root.tag == f"{SVG_NS}svg"  # the SVG namespace, without which no browser draws it
    assert int(root.attrib["width"]) >= 100


async def test_target_url_is_the_landing_link_the_qr_code_encodes(
    api: Api, client: httpx.AsyncClient
) -> None:
    reference = new_reference()
    created = (await _qr_payment(api, "TEXT/TARGETURL", reference)).json()
    url = created["redirectUrl"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://sandbox.test/landing"
    (token,) = parse_qs(parts.query)["token"]
    assert (await api.get(reference)).json()["redirectUrl"] == url
    landing = await client.get(url)  # a page, not an image
    assert landing.status_code == 200
    assert landing.headers["content-type"].startswith("text/html")
    assert "Your mobile number" in landing.text
    # The emulator's QR image of this payment is drawn from that same landing link.
    assert (await client.get(f"/qr/{token}.svg")).status_code == 200


async def test_svg_qr_shows_in_an_img_element(page: Any, live_server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=live_server.base) as http:
        api = Api(http, await fetch_token(http))
        url = (await _qr_payment(api, "IMAGE/SVG+XML")).json()["redirectUrl"]
    await page.goto(f"{live_server.base}/phone")
    width = await page.evaluate(
        """(src) => new Promise((resolve) => {
            const img = document.createElement("img");
            img.onload = () => resolve(img.naturalWidth);
            img.onerror = () => resolve(0);
            img.src = src;
            document.body.appendChild(img);
        })""",
        url,
    )
    assert width > 0


async def test_a_person_opens_the_target_url_and_approves(
    page: Any, live_server: LiveServer
) -> None:
    from playwright.async_api import expect

    async with httpx.AsyncClient(base_url=live_server.base) as http:
        api = Api(http, await fetch_token(http))
        reference = new_reference()
        url = (await _qr_payment(api, "TEXT/TARGETURL", reference)).json()["redirectUrl"]
        await page.goto(url)  # what the phone's camera opens after scanning the QR code
        await page.get_by_label("Your mobile number (with country code)").fill(f"+{PHONE}")
        await page.get_by_role("button", name="Continue in the app").click()
        await expect(page).to_have_url(re.compile(rf"/sandbox/vipps/phone/{PHONE}$"))
        card = page.locator(f'.card.request[data-reference="{reference}"]')
        await card.get_by_role("button", name="Approve").click()
        await expect(page.get_by_role("status")).to_have_text("Payment approved")
        assert (await api.get(reference)).json()["state"] == "AUTHORIZED"
