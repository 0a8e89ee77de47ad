"""The provider contract (tests/providers/contract.py) for VippsProvider: our real adapter and
client against the Vipps MobilePay emulator over real HTTP, with a real local receiver that
catches the webhooks the emulator signs and sends.

The driver plays the payer with the emulator's force approve (the test API) and the phone's
reject button, the clock with `/clock/advance`, and the network with the fault switches
(`PATCH /faults`): 5xx, 429 and dropped connections for every API call while switched on,
duplicated and reordered webhook deliveries.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx
import pytest
import uvicorn

from payrequest.providers.vipps.client import Credentials, RetryPolicy, VippsClient
from payrequest.providers.vipps.provider import VippsProvider, capabilities_for
from payrequest.sandbox import Faults, SandboxConfig, create_sandbox_app
from payrequest.sandbox.config import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_MSN,
    DEFAULT_SUBSCRIPTION_KEY,
)
from payrequest.sandbox.signing import signed_headers
from tests.providers.contract import PHONE, ContractDriver, Fault, ProviderContract, Webhook
from tests.sandbox.helpers import FAST_RETRIES, Receiver, free_port, until_started

# Quick retries inside one call: a fault switched on stays on for every try, so the call ends
# with the error the last try got; 429's one-second Retry-After is longer than `max_wait` and
# ends the call at once with TryAgainLater.
RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_wait=0.5, deadline=5.0)
SWITCHES: dict[Fault, dict[str, Any]] = {
    Fault.server_error: {"error_rate": 1.0},
    Fault.rate_limited: {"rate_limit_rate": 1.0},
    Fault.outcome_unknown: {"timeout_rate": 1.0, "timeout_mode": "close"},
}
NO_FAULTS = {"error_rate": 0.0, "rate_limit_rate": 0.0, "timeout_rate": 0.0}
STANDARD_LIFETIME_SECONDS = 10 * 60
WEBHOOK_WAIT = 5.0


class VippsDriver:
    currency = "NOK"
    logs_creation = True  # CREATED
    captures_at_approval = False  # reserve at approval, capture when we ask
    refusal_ends_payment = True
    remembers_cancel = True
    signs_body_hash = True

    def __init__(self, provider: VippsProvider, base: str, receiver: Receiver) -> None:
        self.vipps = provider
        self.base = base
        self.receiver = receiver
        self.secret = ""
        self.webhook_id = ""
        self.known_gaps = {
            "test_a_key_used_with_other_details_is_refused": (
                "by design: VippsProvider.create_payment answers ErrorCode 4020 (the key was "
                "used with another body) with the payment that exists for the reference, since "
                "a resend for the same request may carry recomputed receipt lines"
            ),
        }

    @property
    def provider(self) -> VippsProvider:
        return self.vipps

    async def control(self, method: str, path: str, body: Any = None) -> None:
        async with httpx.AsyncClient(base_url=self.base) as http:
            response = await http.request(method, path, json=body)
        assert response.status_code < 400, response.text

    async def approve(self, key: str) -> None:
        response = await self.vipps.client.call(
            "POST",
            f"/epayment/v1/test/payments/{key}/approve",
            json={"customer": {"phoneNumber": PHONE}},
        )
        assert response.status_code == 200, response.text

    async def decline(self, key: str) -> None:
        await self.control("POST", f"/phone/{PHONE}/payments/{key}/reject")

    async def expire(self, key: str) -> None:
        await self.control("POST", "/clock/advance", {"seconds": STANDARD_LIFETIME_SECONDS + 60})

    async def payments_made(self, reference: str) -> int:
        """Vipps MobilePay keys a payment by our reference: there is one, or none."""
        response = await self.vipps.client.call("GET", f"/epayment/v1/payments/{reference}")
        assert response.status_code in (200, 404), response.text
        return 1 if response.status_code == 200 else 0

    async def set_fault(self, fault: Fault | None) -> None:
        await self.vipps.client.access_token()  # the token call would fail too
        await self.control("PATCH", "/faults", SWITCHES[fault] if fault else NO_FAULTS)

    async def webhook_faults(self, *, duplicate: bool = False, reorder: bool = False) -> None:
        switches = {
            "webhook_duplicate_rate": 1.0 if duplicate else 0.0,
            "webhook_reorder_rate": 1.0 if reorder else 0.0,
        }
        await self.control("PATCH", "/faults", switches)

    async def webhooks(self, reference: str, count: int) -> list[Webhook]:
        deadline = time.monotonic() + WEBHOOK_WAIT
        while True:
            mine = [
                Webhook(call.body, call.headers)
                for call in self.receiver.calls
                if json.loads(call.body).get("reference") == reference
            ]
            if len(mine) >= count:
                return mine
            assert time.monotonic() < deadline, f"expected {count} webhooks, got {len(mine)}"
            await asyncio.sleep(0.02)

    def sign(self, body: bytes, secret: str) -> dict[str, str]:
        """Signed the way the emulator signs (not our adapter's code)."""
        return signed_headers(secret, self.receiver.url(), body, time.time(), self.webhook_id)


async def serve(
    app: Any, port: int, lifespan: Literal["on", "off"]
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", lifespan=lifespan, interface="asgi3"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await until_started(server)
    return server, task


async def shut(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    server.should_exit = True
    await task


@pytest.fixture
async def driver() -> AsyncIterator[ContractDriver]:
    config = SandboxConfig(
        seed=4321,
        webhook_retry_schedule=FAST_RETRIES,
        webhook_timeout=2.0,
        sweep_interval=0.05,
        faults=Faults(rate_limits=False),  # a contract test makes many changes of one payment
    )
    emulator_port, receiver = free_port(), Receiver(port=free_port())
    emulator = await serve(create_sandbox_app(config), emulator_port, "on")
    hooks = await serve(receiver.app, receiver.port, "off")
    base = f"http://127.0.0.1:{emulator_port}"
    client = VippsClient(
        base_url=base,
        credentials=Credentials(
            DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_SUBSCRIPTION_KEY, DEFAULT_MSN
        ),
        timeout=2.0,
        retry=RETRY,
    )
    provider = VippsProvider(
        client, webhook_url=receiver.url(), capabilities=capabilities_for("NO", long_living=True)
    )
    driver = VippsDriver(provider, base, receiver)
    driver.webhook_id, driver.secret = await provider.register_webhook(receiver.url())
    try:
        yield driver
    finally:
        await provider.close()
        await shut(*hooks)
        await shut(*emulator)


class TestVippsContract(ProviderContract):
    pass
