"""Phone simulator pages, the SMS inbox API, the landing page, and mounting under a prefix."""

from __future__ import annotations

import httpx

from payrequest.sandbox import SandboxConfig, create_sandbox_app
from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.helpers import (
    RECEIPT,
    Api,
    check_contract,
    fetch_token,
    mounted_parent,
    new_reference,
)

PHONE = "4791234567"


async def test_sms_inbox_is_idempotent_per_key(client: httpx.AsyncClient) -> None:
    sms = {
        "sender": "payrequest",
        "text": "Pay here: https://x.example/p/1",
        "idempotency_key": "m1",
    }
    first = await client.post(f"/phone/{PHONE}/sms", json=sms)
    again = await client.post(f"/phone/{PHONE}/sms", json={**sms, "text": "changed"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    listed = (await client.get(f"/phone/{PHONE}/sms")).json()
    assert [m["text"] for m in listed] == ["Pay here: https://x.example/p/1"]
    page = (await client.get(f"/phone/{PHONE}")).text
    assert '<a href="https://x.example/p/1">' in page
    assert PHONE in (await client.get("/phone")).text


async def test_sms_validation(client: httpx.AsyncClient) -> None:
    assert (
        await client.post(
            "/phone/12ab/sms", json={"sender": "a", "text": "t", "idempotency_key": "k"}
        )
    ).status_code == 404
    assert (
        await client.post(
            f"/phone/{PHONE}/sms", json={"sender": "", "text": "t", "idempotency_key": "k"}
        )
    ).status_code == 422
    assert (
        await client.post(f"/phone/{PHONE}/sms", json={"sender": "a", "text": "t"})
    ).status_code == 422


async def test_sms_text_is_escaped(client: httpx.AsyncClient) -> None:
    await client.post(
        f"/phone/{PHONE}/sms",
        json={"sender": "x", "text": "<script>bad()</script>", "idempotency_key": "x"},
    )
    page = (await client.get(f"/phone/{PHONE}/live")).text
    assert "<script>bad()" not in page and "&lt;script&gt;" in page


async def test_phone_shows_request_like_the_app(api: Api, client: httpx.AsyncClient) -> None:
    reference = new_reference()
    await api.create(reference, receipt=RECEIPT, expiresAt=None, paymentDescription="Invoice 10023")
    page = (await client.get(f"/phone/{PHONE}/live")).text
    assert "Sandbox Merchant" in page and "Invoice 10023" in page
    assert "499,00\xa0kr" in page  # formatted for the market (nb_NO), not 49900
    assert "1 × Invoice 10023" in page
    assert "data-remaining-ms=" in page and "Approve" in page and "Reject" in page


async def test_phone_approve_and_reject(api: Api, client: httpx.AsyncClient, sb: Sandbox) -> None:
    approve_me, reject_me = new_reference(), new_reference()
    await api.create(approve_me)
    await api.create(reject_me)
    ok = await client.post(f"/phone/{PHONE}/payments/{approve_me}/approve")
    assert ok.status_code == 200 and "Payment approved" in ok.text
    no = await client.post(f"/phone/{PHONE}/payments/{reject_me}/reject")
    assert "Payment rejected" in no.text
    assert (await api.get(approve_me)).json()["state"] == "AUTHORIZED"
    assert (await api.get(reject_me)).json()["state"] == "ABORTED"
    assert [e["name"] for e in (await api.events(reject_me)).json()] == ["CREATED", "ABORTED"]
    other_phone = await client.post(f"/phone/4799999999/payments/{approve_me}/approve")
    assert other_phone.status_code == 404


async def test_phone_shows_declined_magic_amount(api: Api, client: httpx.AsyncClient) -> None:
    reference = new_reference()
    await api.create(reference, amount={"currency": "NOK", "value": 151})
    response = await client.post(f"/phone/{PHONE}/payments/{reference}/approve")
    assert "Payment failed: Insufficient funds" in response.text
    assert (await api.get(reference)).json()["state"] == "CREATED"


async def test_landing_page_sends_payment_to_the_phone(api: Api, client: httpx.AsyncClient) -> None:
    reference = new_reference()
    created = await api.create(
        reference, userFlow="WEB_REDIRECT", customer=None, returnUrl="https://shop.example/r"
    )
    token = created.json()["redirectUrl"].split("token=")[1]
    submitted = await client.post("/landing", data={"token": token, "phone": "+47 912 34 567"})
    assert submitted.status_code == 303 and submitted.headers["location"] == f"/phone/{PHONE}"
    assert reference in (await client.get(f"/phone/{PHONE}/live")).text


async def test_mounted_urls_carry_the_prefix() -> None:
    sandbox = create_sandbox_app(SandboxConfig())
    parent = mounted_parent(sandbox, "/sandbox/vipps")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=parent),
        base_url="http://demo.test/sandbox/vipps",
        event_hooks={"response": [check_contract]},
    ) as http:
        api = Api(http, await fetch_token(http))
        created = await api.create(userFlow="WEB_REDIRECT", returnUrl="https://shop.example/r")
        assert created.json()["redirectUrl"].startswith(
            "http://demo.test/sandbox/vipps/landing?token="
        )
        page = (await http.get(f"/phone/{PHONE}")).text
        assert 'data-live-url="/sandbox/vipps/phone/4791234567/live"' in page
        assert 'data-action-url="/sandbox/vipps/phone/4791234567/payments/' in page
        index = (await http.get("/phone")).text
        assert 'href="/sandbox/vipps/phone/4791234567"' in index
