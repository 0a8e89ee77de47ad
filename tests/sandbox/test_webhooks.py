"""Webhooks: registration API, signed delivery to a real receiver, ordering and retries.

The signature verifier here is written from docs/vipps.md#webhook-signatures independently of the
emulator's signer, and is first checked against the official test vector.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from payrequest.sandbox.emulator import Sandbox
from tests.sandbox.contract import checker
from tests.sandbox.helpers import Api, Receiver, new_reference

ALL_EVENTS = [
    f"epayments.payment.{n}.v1"
    for n in (
        "created",
        "aborted",
        "expired",
        "cancelled",
        "captured",
        "refunded",
        "authorized",
        "terminated",
    )
]


# --- an independent verifier -----------------------------------------------------------


def verify(secret: str, registered_url: str, headers: dict[str, str], body: bytes) -> bool:
    parts = urlsplit(registered_url)
    path_and_query = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname or ""
    if parts.port and parts.port != default:
        host = f"{host}:{parts.port}"
    content = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if not hmac.compare_digest(content, headers.get("x-ms-content-sha256", "")):
        return False
    to_sign = f"POST\n{path_and_query}\n{headers['x-ms-date']};{host};{content}"
    mac = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).digest()
    expected = (
        "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
        + base64.b64encode(mac).decode()
    )
    auth = headers.get("authorization") or headers.get("x-vipps-authorization") or ""
    return hmac.compare_digest(expected, auth)


OFFICIAL_SECRET = (
    "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A=="
)
OFFICIAL_URL = "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63"
OFFICIAL_BODY = b'{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}'
OFFICIAL_HEADERS = {
    "x-ms-date": "Thu, 30 Mar 2023 08:38:32 GMT",
    "x-ms-content-sha256": "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4=",
    "authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="
    "agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U=",
}


def test_verifier_passes_official_vector() -> None:
    assert verify(OFFICIAL_SECRET, OFFICIAL_URL, OFFICIAL_HEADERS, OFFICIAL_BODY)


def test_verifier_rejects_decoded_secret_and_tampering() -> None:
    decoded = dict(OFFICIAL_HEADERS)
    decoded["authorization"] = decoded["authorization"].replace(
        "agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U=",
        "T3+NXHMmhNVEjW5PeJ4Gql70nf0MOXCAY9CoZDxuVQw=",
    )
    assert not verify(OFFICIAL_SECRET, OFFICIAL_URL, decoded, OFFICIAL_BODY)
    assert not verify(OFFICIAL_SECRET, OFFICIAL_URL, OFFICIAL_HEADERS, OFFICIAL_BODY + b" ")
    assert not verify(OFFICIAL_SECRET, OFFICIAL_URL + "?x=1", OFFICIAL_HEADERS, OFFICIAL_BODY)


def test_emulator_signer_matches_official_and_derived_vectors() -> None:
    from payrequest.sandbox.signing import authorization, content_hash

    assert content_hash(OFFICIAL_BODY) == OFFICIAL_HEADERS["x-ms-content-sha256"]
    got = authorization(OFFICIAL_SECRET, OFFICIAL_URL, OFFICIAL_HEADERS["x-ms-date"], OFFICIAL_BODY)
    assert got == OFFICIAL_HEADERS["authorization"]
    body = (
        b'{"msn":"123456","reference":"acme-shop-123-order123abc","pspReference":'
        b'"dd8e0a8e-2b26-40ed-98f1-1d5832fc129f","name":"AUTHORIZED","amount":{"currency":"NOK",'
        b'"value":49900},"timestamp":"2026-01-19T16:26:32.099Z","idempotencyKey":'
        b'"7c8b81e7-b08b-46e4-9729-191cb801c132","success":true}'
    )
    derived = authorization(
        "090a478d-37ff-4e77-970e-d457aeb26a3a",
        "https://example.com:8443/hooks/vipps?env=test",
        "Mon, 19 Jan 2026 16:26:33 GMT",
        body,
    )
    assert derived.endswith("Signature=I3/veg+417V51DKaHi9G4UFEmz+DYONvaFFdn3oA32s=")


# --- registration API ------------------------------------------------------------------


async def register(api: Api, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = await api.http.post(
        "/webhooks/v1/webhooks",
        json={"url": url, "events": events or ALL_EVENTS},
        headers=api.headers(),
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_register_list_delete(api: Api) -> None:
    hook = await register(api, "https://example.com/hook", ALL_EVENTS[:2])
    assert set(hook) == {"id", "secret"} and len(hook["secret"]) >= 32
    listed = (await api.http.get("/webhooks/v1/webhooks", headers=api.headers())).json()
    assert listed == {
        "webhooks": [
            {"id": hook["id"], "url": "https://example.com/hook", "events": sorted(ALL_EVENTS[:2])}
        ]
    }
    deleted = await api.http.delete(f"/webhooks/v1/webhooks/{hook['id']}", headers=api.headers())
    assert deleted.status_code == 204 and deleted.content == b""
    again = await api.http.delete(f"/webhooks/v1/webhooks/{hook['id']}", headers=api.headers())
    assert again.status_code == 404
    assert (await api.http.get("/webhooks/v1/webhooks", headers=api.headers())).json() == {
        "webhooks": []
    }


@pytest.mark.parametrize(
    ("body", "name", "reason"),
    [
        (
            {"url": "https://x.example/h", "events": ["epayment.payment.created.v1"]},
            "events",
            "Unsupported values: epayment.payment.created.v1",
        ),
        ({"events": ALL_EVENTS}, "url", "The property is required and cannot be null or empty."),
        (
            {"url": "http://x.example/h", "events": ALL_EVENTS},
            "url",
            "The URL must be a valid https URL.",
        ),
        (
            {"url": "https://x.example/h", "events": []},
            "events",
            "The property is required and cannot be null or empty.",
        ),
    ],
)
async def test_register_validation(api: Api, body: dict[str, Any], name: str, reason: str) -> None:
    response = await api.http.post("/webhooks/v1/webhooks", json=body, headers=api.headers())
    assert response.status_code == 400
    assert {"name": name, "reason": reason} in response.json()["extraDetails"]


async def test_register_needs_token(api: Api) -> None:
    headers = {k: v for k, v in api.headers().items() if k != "Authorization"}
    response = await api.http.get("/webhooks/v1/webhooks", headers=headers)
    assert response.status_code == 401


async def test_at_most_25_registrations_per_event(api: Api) -> None:
    for i in range(25):
        await register(api, f"https://example.com/h{i}", ALL_EVENTS[:1])
    response = await api.http.post(
        "/webhooks/v1/webhooks",
        json={"url": "https://example.com/x", "events": ALL_EVENTS[:1]},
        headers=api.headers(),
    )
    assert response.status_code == 400


# --- delivery --------------------------------------------------------------------------


def payloads(calls: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(c.body) for c in calls]


async def test_every_event_is_delivered_signed(api: Api, sb: Sandbox, receiver: Receiver) -> None:
    hook = await register(api, receiver.url())
    await sb.start()
    reference = await api.authorized(10000)
    await api.modify("capture", reference, 10000)
    await api.modify("refund", reference, 500)
    await receiver.wait_for(4)
    assert [p["name"] for p in payloads(receiver.calls)] == [
        "CREATED",
        "AUTHORIZED",
        "CAPTURED",
        "REFUNDED",
    ]
    for call in receiver.calls:
        assert call.path == "/hooks/vipps" and call.query == "env=test"
        assert call.headers["host"] == f"127.0.0.1:{receiver.port}"
        assert call.headers["authorization"] == call.headers["x-vipps-authorization"]
        assert verify(hook["secret"], receiver.url(), call.headers, call.body)
        assert not verify("wrong-secret", receiver.url(), call.headers, call.body)
        checker().webhook_event(json.loads(call.body))
    first = payloads(receiver.calls)[0]
    assert (
        first["msn"] == sb.config.msn
        and first["reference"] == reference
        and first["success"] is True
    )


async def test_each_registration_gets_its_own_signature(
    api: Api, sb: Sandbox, receiver: Receiver
) -> None:
    one = await register(api, receiver.url("/a"), ALL_EVENTS[:1])  # created only
    two = await register(api, receiver.url("/b"), ALL_EVENTS)
    await sb.start()
    await api.create()
    await receiver.wait_for(2)
    by_path = {c.path: c for c in receiver.calls}
    assert verify(one["secret"], receiver.url("/a"), by_path["/a"].headers, by_path["/a"].body)
    assert verify(two["secret"], receiver.url("/b"), by_path["/b"].headers, by_path["/b"].body)


async def test_only_subscribed_events_are_sent(api: Api, sb: Sandbox, receiver: Receiver) -> None:
    await register(api, receiver.url(), ["epayments.payment.authorized.v1"])
    await sb.start()
    await api.authorized()
    await receiver.wait_for(1)
    await asyncio.sleep(0.1)
    assert [p["name"] for p in payloads(receiver.calls)] == ["AUTHORIZED"]


async def test_failures_retry_and_block_later_events(
    api: Api, sb: Sandbox, receiver: Receiver
) -> None:
    await register(api, receiver.url())
    receiver.script.extend([500, 503, 404])  # the first event fails three times
    await sb.start()
    reference = await api.authorized(10000)
    await api.modify("capture", reference, 10000)
    await receiver.wait_for(3)
    statuses = [(json.loads(c.body)["name"], c.status) for c in receiver.calls]
    assert statuses[:4] == [("CREATED", 500), ("CREATED", 503), ("CREATED", 404), ("CREATED", 200)]
    assert [p["name"] for p in payloads(receiver.ok())] == ["CREATED", "AUTHORIZED", "CAPTURED"]


async def test_head_of_line_blocking_is_per_payment(
    api: Api, sb: Sandbox, receiver: Receiver
) -> None:
    sb.config.webhook_retry_schedule = (0.3,)
    await register(api, receiver.url())
    receiver.script.extend([500])  # the first delivery (payment A, CREATED) fails once
    await sb.start()
    first = new_reference()
    await api.create(first)
    await receiver.wait_for(1, ok_only=False)
    await api.approve(first)  # A: AUTHORIZED must wait for A: CREATED
    second = await api.authorized()  # B is not blocked by A
    await receiver.wait_for(2)
    assert [(p["reference"], p["name"]) for p in payloads(receiver.ok())] == [
        (second, "CREATED"),
        (second, "AUTHORIZED"),
    ]
    await receiver.wait_for(4)
    a_events = [p["name"] for p in payloads(receiver.ok()) if p["reference"] == first]
    assert a_events == ["CREATED", "AUTHORIZED"]


async def test_timeout_counts_as_failure(api: Api, sb: Sandbox, receiver: Receiver) -> None:
    sb.config.webhook_timeout = 0.2
    receiver.delays.append(0.5)  # the first POST takes longer than the timeout
    await register(api, receiver.url())
    await sb.start()
    await api.create()
    await receiver.wait_for(2, within=5, ok_only=False)
    deliveries = sb.store.deliveries()
    assert deliveries[0].status == "delivered" and deliveries[0].attempts == 2


async def test_gives_up_after_max_age(api: Api, sb: Sandbox, receiver: Receiver) -> None:
    sb.config.webhook_max_age = 0.15
    await register(api, receiver.url())
    receiver.script.extend([500] * 50)
    await sb.start()
    await api.create()
    for _ in range(100):
        if sb.store.deliveries()[0].status == "failed":
            break
        await asyncio.sleep(0.02)
    assert sb.store.deliveries()[0].status == "failed"


async def test_undelivered_events_survive_a_restart(tmp_path: Any, receiver: Receiver) -> None:
    import httpx

    from payrequest.sandbox import SandboxConfig, create_sandbox_app, sandbox_of_app
    from tests.sandbox.helpers import check_contract, fetch_token

    config = SandboxConfig(state_path=tmp_path / "sandbox.db", webhook_retry_schedule=(0.05,))
    first_app = create_sandbox_app(config)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first_app),
        base_url="http://s",
        event_hooks={"response": [check_contract]},
    ) as http:
        api = Api(http, await fetch_token(http))
        hook = await register(api, receiver.url())
        reference = new_reference()
        await api.create(reference)  # queued; the deliverer is not running
    sandbox_of_app(first_app).close()

    second_app = create_sandbox_app(config)
    sandbox = sandbox_of_app(second_app)
    await sandbox.start()
    try:
        await receiver.wait_for(1)
        assert verify(
            hook["secret"], receiver.url(), receiver.calls[0].headers, receiver.calls[0].body
        )
        payment = sandbox.store.payment(config.msn, reference)
        assert payment is not None and payment.state == "CREATED"
    finally:
        await sandbox.stop()
        sandbox.close()


async def test_foreign_msn_cannot_register(api: Api) -> None:
    headers = {**api.headers(), "Merchant-Serial-Number": "999999"}
    body = {"url": "https://example.com/h", "events": ALL_EVENTS}
    response = await api.http.post("/webhooks/v1/webhooks", json=body, headers=headers)
    assert response.status_code == 403
