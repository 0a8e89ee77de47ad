"""SMS gateways over real HTTP: the sandbox gateway against the real emulator, and the
GatewayAPI adapter against a local server that plays GatewayAPI (the edge of the world)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from payrequest.notify.sms import GatewayApiSms, SandboxSms, SmsError
from payrequest.sandbox import SandboxConfig, create_sandbox_app
from tests.integration.notify_helpers import serve

PHONE = "+4791234567"
MSISDN = "4791234567"
TOKEN = "gw-token-abc123"


# --- (a) the sandbox gateway against the emulator -------------------------------------


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    with serve(create_sandbox_app(SandboxConfig())) as base:
        yield base


@pytest.fixture
async def sandbox_sms(emulator: str) -> AsyncIterator[SandboxSms]:
    gateway = SandboxSms(base_url=emulator, sender="Kafe Ask")
    yield gateway
    await gateway.close()


async def inbox(base: str, msisdn: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/phone/{msisdn}/sms")
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()
    return messages


async def test_sandbox_sms_lands_in_the_phone_inbox_once(
    emulator: str, sandbox_sms: SandboxSms
) -> None:
    text = "Takk for betalingen! Kvittering: https://pay.example.no/r/abc — hilsen Kafé Ås"
    receipt = await sandbox_sms.send(to=PHONE, text=text, idempotency_key="receipt-1")
    assert receipt.gateway == "sandbox"
    assert receipt.to == PHONE
    messages = await inbox(emulator, MSISDN)
    assert [(m["sender"], m["text"], m["idempotency_key"]) for m in messages] == [
        ("Kafe Ask", text, "receipt-1")
    ]
    assert receipt.message_id == str(messages[0]["id"])

    again = await sandbox_sms.send(to=PHONE, text=text, idempotency_key="receipt-1")
    assert again.message_id == receipt.message_id
    assert len(await inbox(emulator, MSISDN)) == 1

    await sandbox_sms.send(to=PHONE, text="Another", idempotency_key="receipt-2", sender="Shop")
    newest = (await inbox(emulator, MSISDN))[0]
    assert (newest["sender"], newest["text"]) == ("Shop", "Another")


async def test_sandbox_sms_to_a_danish_number(emulator: str, sandbox_sms: SandboxSms) -> None:
    await sandbox_sms.send(to="+4520123456", text="Hej", idempotency_key="dk-1")
    assert [m["text"] for m in await inbox(emulator, "4520123456")] == ["Hej"]


async def test_sandbox_unreachable_is_retryable_and_not_sent() -> None:
    from tests.servers import free_port

    gateway = SandboxSms(base_url=f"http://127.0.0.1:{free_port()}", timeout=2)
    try:
        with pytest.raises(SmsError) as info:
            await gateway.send(to=PHONE, text="Hi", idempotency_key="k")
    finally:
        await gateway.close()
    assert info.value.retryable
    assert not info.value.maybe_sent


async def test_sandbox_refusal_is_not_retryable(emulator: str) -> None:
    gateway = SandboxSms(base_url=f"{emulator}/no-such-prefix")
    try:
        with pytest.raises(SmsError) as info:
            await gateway.send(to=PHONE, text="Hi", idempotency_key="k")
    finally:
        await gateway.close()
    assert not info.value.retryable
    assert "HTTP 404" in info.value.message


# --- (b) GatewayAPI against a local stand-in -----------------------------------------


@dataclass
class FakeGatewayApi:
    """Records every request; answers with whatever the test put in `answer`."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    answer: tuple[int, Any] = (200, {"ids": [421332671], "usage": {"currency": "DKK"}})
    delay: float = 0.0

    async def mtsms(self, request: Request) -> Response:
        body = await request.body()
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "headers": dict(request.headers),
                "json": json.loads(body),
            }
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        status, payload = self.answer
        if isinstance(payload, str):
            return Response(payload, status_code=status, media_type="text/plain")
        return JSONResponse(payload, status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/rest/mtsms", self.mtsms, methods=["POST", "GET"])])


@pytest.fixture(scope="module")
def fake_state() -> FakeGatewayApi:
    return FakeGatewayApi()


@pytest.fixture(scope="module")
def fake_url(fake_state: FakeGatewayApi) -> Iterator[str]:
    with serve(fake_state.app()) as base:
        yield base


@pytest.fixture
def fake(fake_state: FakeGatewayApi, fake_url: str) -> FakeGatewayApi:
    fake_state.requests.clear()
    fake_state.answer = (200, {"ids": [421332671], "usage": {"currency": "DKK"}})
    fake_state.delay = 0.0
    return fake_state


@pytest.fixture
async def gatewayapi(fake_url: str) -> AsyncIterator[GatewayApiSms]:
    gateway = GatewayApiSms(api_token=TOKEN, sender="payrequest", base_url=fake_url, timeout=0.3)
    yield gateway
    await gateway.close()


async def test_gatewayapi_request_on_the_wire(
    fake: FakeGatewayApi, gatewayapi: GatewayApiSms
) -> None:
    receipt = await gatewayapi.send(
        to=PHONE, text="Betalt: kr 499,00. Takk!", idempotency_key="flow-7:event-3:action-0"
    )
    assert (receipt.gateway, receipt.message_id, receipt.to) == ("gatewayapi", "421332671", PHONE)
    [request] = fake.requests
    assert request["method"] == "POST"
    assert request["path"] == "/rest/mtsms"
    expected = base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert request["headers"]["authorization"] == f"Basic {expected}"
    assert request["headers"]["content-type"] == "application/json"
    assert request["json"] == {
        "sender": "payrequest",
        "message": "Betalt: kr 499,00. Takk!",
        "recipients": [{"msisdn": 4791234567}],
        "userref": "flow-7:event-3:action-0",
        "max_parts": 6,
    }
    assert isinstance(request["json"]["recipients"][0]["msisdn"], int)


async def test_gatewayapi_sends_unicode_as_ucs2_and_overrides_sender(
    fake: FakeGatewayApi, gatewayapi: GatewayApiSms
) -> None:
    await gatewayapi.send(
        to="+358401234567", text="Kiitos 🙂", idempotency_key="k", sender="Kahvila"
    )
    [request] = fake.requests
    assert request["json"]["encoding"] == "UCS2"
    assert request["json"]["sender"] == "Kahvila"
    assert request["json"]["recipients"] == [{"msisdn": 358401234567}]


@pytest.mark.parametrize(
    ("status", "payload", "retryable", "in_message"),
    [
        (
            401,
            {"code": "0x0223", "incident_uuid": "u", "message": "Invalid Consumer Key"},
            False,
            "HTTP 401): Invalid Consumer Key (0x0223)",
        ),
        (
            403,
            {"code": "0x0213", "message": "Unauthorized IP-address: %1", "variables": ["1.2.3.4"]},
            False,
            "Unauthorized IP-address: 1.2.3.4 (0x0213)",
        ),
        (422, {"message": "Invalid json request body"}, False, "Invalid json request body"),
        (500, {"message": "Internal server error"}, True, "HTTP 500"),
        (503, "upstream down", True, "upstream down"),
        (429, {"message": "Too many requests"}, True, "HTTP 429"),
    ],
)
async def test_gatewayapi_error_mapping(
    fake: FakeGatewayApi,
    gatewayapi: GatewayApiSms,
    status: int,
    payload: Any,
    retryable: bool,
    in_message: str,
) -> None:
    fake.answer = (status, payload)
    with pytest.raises(SmsError) as info:
        await gatewayapi.send(to=PHONE, text="Hi", idempotency_key="k")
    assert info.value.retryable is retryable
    assert in_message in info.value.message
    assert info.value.message.startswith("GatewayAPI refused the SMS")


async def test_gatewayapi_timeout_is_retryable_and_maybe_sent(
    fake: FakeGatewayApi, gatewayapi: GatewayApiSms
) -> None:
    fake.delay = 0.6  # the client gives up after 0.3 s
    with pytest.raises(SmsError) as info:
        await gatewayapi.send(to=PHONE, text="Hi", idempotency_key="slow")
    assert info.value.retryable
    assert info.value.maybe_sent  # the request went out: it may have been sent
    assert "timed out" in info.value.message
    assert len(fake.requests) == 1


async def test_gatewayapi_200_without_ids_is_an_error(
    fake: FakeGatewayApi, gatewayapi: GatewayApiSms
) -> None:
    fake.answer = (200, {"usage": {}})
    with pytest.raises(SmsError) as info:
        await gatewayapi.send(to=PHONE, text="Hi", idempotency_key="k")
    assert not info.value.retryable
    assert info.value.maybe_sent


async def test_invalid_input_never_reaches_the_gateway(
    fake: FakeGatewayApi, gatewayapi: GatewayApiSms
) -> None:
    for to, text in [("+1 202 555 0123", "Hi"), (PHONE, "  "), (PHONE, "x" * 919)]:
        with pytest.raises(SmsError) as info:
            await gatewayapi.send(to=to, text=text, idempotency_key="k")
        assert not info.value.retryable
    assert fake.requests == []
