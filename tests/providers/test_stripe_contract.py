"""The provider contract (tests/providers/contract.py) for StripeProvider: our real adapter on
the official SDK against the Stripe emulator over real HTTP, with a real local receiver that
catches the webhooks the emulator signs and sends.

The driver plays the payer on the hosted checkout page (`/pay/{cs_id}`, form posts as a
browser sends them: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined), the clock with
`/control/clock/advance`, and the network with the fault switches (`PATCH /control/faults`):
5xx, 429 and dropped connections for every `/v1` call while switched on, duplicated and
reordered webhook deliveries. It counts sessions through the API (`client_reference_id`).

One emulator and one receiver serve the whole module (in threads, as
tests/sandbox/stripe/conftest.py serves the emulator); each test is an account of its own (a
fresh `sk_test_` key, `any_test_key`) with its own webhook endpoint, so tests see only their
own objects and events. The fault switches and the clock are the emulator's, shared: the
fixture switches the faults off after every test, and a clock moved forward only makes older
tests' sessions expire.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from payrequest.providers.stripe import StripeAccount, StripeProvider, build_stripe
from payrequest.sandbox.stripe import StripeConfig, create_stripe_app, stripe_of_app
from payrequest.sandbox.stripe.signing import signature_header
from tests.providers.contract import ContractDriver, Fault, ProviderContract, Webhook
from tests.sandbox.helpers import FAST_RETRIES, free_port

ACCOUNT = "acct_contract"
PAYS = "4242424242424242"
DECLINED = "4000000000000002"  # card_declined / generic_decline
SESSION_LIFETIME_SECONDS = 24 * 3600  # a session's default lifetime
SWITCHES: dict[Fault, dict[str, Any]] = {
    Fault.server_error: {"error_rate": 1.0},
    Fault.rate_limited: {"rate_limit_rate": 1.0},
    Fault.outcome_unknown: {"timeout_rate": 1.0, "timeout_mode": "close"},
}
NO_API_FAULTS = {"error_rate": 0.0, "rate_limit_rate": 0.0, "timeout_rate": 0.0}
NO_FAULTS = {**NO_API_FAULTS, "webhook_duplicate_rate": 0.0, "webhook_reorder_rate": 0.0}
WAIT = 5.0

KNOWN_GAPS: dict[str, str] = {}  # every difference is a declared behaviour the contract checks


@dataclass
class Delivered:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver served in a thread of its own: every POST answered 200 and kept."""

    port: int = 0
    calls: list[Delivered] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.calls.append(Delivered(scope["path"], headers, body))  # one append: thread-safe
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Served:
    base: str  # http://127.0.0.1:PORT/stripe
    receiver: Receiver


class StripeDriver:
    currency = "NOK"
    logs_creation = False  # Stripe has no event for a new Checkout Session
    captures_at_approval = True  # Checkout takes the whole amount when the payer pays
    refusal_ends_payment = False
    remembers_cancel = False
    signs_body_hash = False
    known_gaps = KNOWN_GAPS

    def __init__(self, provider: StripeProvider, served: Served, key: str, hooks: str) -> None:
        self.stripe = provider
        self.base = served.base
        self.receiver = served.receiver
        self.key = key  # the account's secret key
        self.hooks = hooks  # the path of this test's endpoint at the receiver
        self.secret = ""

    @property
    def provider(self) -> StripeProvider:
        return self.stripe

    async def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call to the emulator's Stripe API with the account's key, not through the adapter."""
        async with httpx.AsyncClient(base_url=self.base, timeout=WAIT) as http:
            response = await http.request(
                method, path, headers={"Authorization": f"Bearer {self.key}"}, **kwargs
            )
        assert response.status_code == 200, response.text
        return response.json()

    async def control(self, method: str, path: str, body: Any = None) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=WAIT) as http:
            response = await http.request(method, f"/control{path}", json=body)
        assert response.status_code == 200, response.text

    async def pay(self, key: str, number: str) -> httpx.Response:
        """The payer on the hosted page: open it, then send its card form."""
        async with httpx.AsyncClient(base_url=self.base, timeout=WAIT) as http:
            page = await http.get(f"/pay/{key}")
            assert page.status_code == 200 and 'name="cardNumber"' in page.text, page.text
            form = {"cardNumber": number, "cardExpiry": "12 / 34", "cardCvc": "123"}
            return await http.post(f"/pay/{key}", data=form)

    async def approve(self, key: str) -> None:
        paid = await self.pay(key, PAYS)
        assert paid.status_code == 303, paid.text  # on to success_url

    async def decline(self, key: str) -> None:
        refused = await self.pay(key, DECLINED)
        assert refused.status_code == 200 and "declined" in refused.text, refused.text

    async def expire(self, key: str) -> None:
        await self.control("POST", "/clock/advance", {"seconds": SESSION_LIFETIME_SECONDS + 60})
        deadline = time.monotonic() + WAIT
        while (await self.api("GET", f"/v1/checkout/sessions/{key}"))["status"] != "expired":
            assert time.monotonic() < deadline, f"{key} did not expire"
            await asyncio.sleep(0.02)

    async def payments_made(self, reference: str) -> int:
        listed = await self.api(
            "GET",
            "/v1/checkout/sessions",
            params={"client_reference_id": reference, "limit": 100},
        )
        return len(listed["data"])

    async def set_fault(self, fault: Fault | None) -> None:
        switches = SWITCHES[fault] if fault else NO_API_FAULTS
        await self.control("PATCH", "/faults", switches)

    async def webhook_faults(self, *, duplicate: bool = False, reorder: bool = False) -> None:
        switches = {
            "webhook_duplicate_rate": 1.0 if duplicate else 0.0,
            "webhook_reorder_rate": 1.0 if reorder else 0.0,
        }
        await self.control("PATCH", "/faults", switches)

    async def webhooks(self, reference: str, count: int) -> list[Webhook]:
        deadline = time.monotonic() + WAIT
        while True:
            mine = [
                Webhook(call.body, call.headers)
                for call in list(self.receiver.calls)
                if call.path == self.hooks and _reference(call.body) == reference
            ]
            if len(mine) >= count:
                return mine
            assert time.monotonic() < deadline, f"expected {count} webhooks, got {len(mine)}"
            await asyncio.sleep(0.02)

    def sign(self, body: bytes, secret: str) -> dict[str, str]:
        """Signed the way the emulator signs (not our adapter's code), now."""
        return {"Stripe-Signature": signature_header(secret, int(time.time()), body)}


def _reference(body: bytes) -> str | None:
    """Our reference in a delivered event: the session's client_reference_id, or the
    metadata's `reference` of a PaymentIntent or refund."""
    obj = json.loads(body).get("data", {}).get("object", {})
    found = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("reference")
    return found if isinstance(found, str) else None


def _in_a_thread(
    app: Any, lifespan: Literal["on", "off"]
) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="critical",
            lifespan=lifespan,
            interface="asgi3",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    return server, thread, port


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The emulator, mounted at /stripe as `payrequest sandbox` mounts it, and a receiver."""
    app = create_stripe_app(
        StripeConfig(
            any_test_key=True,
            seed=4242,
            webhook_retry_schedule=FAST_RETRIES,
            webhook_timeout=2.0,
            sweep_interval=0.02,
        )
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await stripe_of_app(app).start()
        try:
            yield
        finally:
            await stripe_of_app(app).stop()

    parent = FastAPI(lifespan=lifespan)
    parent.mount("/stripe", app)
    receiver = Receiver()
    servers = [_in_a_thread(parent, "on"), _in_a_thread(receiver.app, "off")]
    receiver.port = servers[1][2]
    yield Served(f"http://127.0.0.1:{servers[0][2]}/stripe", receiver)
    for server, thread, _ in servers:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
async def driver(served: Served) -> AsyncIterator[ContractDriver]:
    account = uuid.uuid4().hex[:16]
    key = f"sk_test_contract_{account}"
    provider = build_stripe(
        StripeAccount(
            secret_key=key,
            account=ACCOUNT,
            api_base=served.base,
            timeout_seconds=5,
            max_network_retries=1,  # the SDK's retry with the same key, once (0.5 s)
        )
    )
    hooks = f"/webhooks/stripe/{account}"
    driver = StripeDriver(provider, served, key, hooks)
    _, driver.secret = await provider.register_webhook(served.receiver.url(hooks))
    try:
        yield driver
    finally:
        await driver.control("PATCH", "/faults", NO_FAULTS)
        await provider.close()


class TestStripeContract(ProviderContract):
    pass
