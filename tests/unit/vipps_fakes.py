"""A scripted Vipps MobilePay on httpx.MockTransport, a fake clock and a sleep recorder.

The token endpoint issues `token-1`, `token-2`, ... (real-shaped answer: numeric fields are
strings). Every other call is answered from a per-route queue of scripted answers; a call with
nothing scripted fails the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from payrequest.providers.vipps.client import Credentials, RetryPolicy, VippsClient

BASE_URL = "https://apitest.vipps.no"
TOKEN_PATH = "/accesstoken/get"
CREDENTIALS = Credentials(
    client_id="fb492b5e-7907-4d83-ba20-c7fb60ca35de",
    client_secret="Y8Kteew6GE2ZmeycEt6egg==",
    subscription_key="0f14ebcab0ec4b29ae0cb90d91b4a84a",
    merchant_serial_number="2060591",
)
SYSTEM_NAME = "payrequest-test"
SYSTEM_VERSION = "9.8.7"

# A scripted answer: a response, or a function of the request (which may raise, e.g. a timeout).
Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def problem(
    status: int,
    title: str,
    *,
    code: str | None = None,
    detail: str | None = None,
    trace_id: str = "00-813b63975adcaaeef2b0ec7c103c40e3-706492e906541d31-01",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """An RFC 7807 answer shaped as docs/vipps.md#errors describes."""
    body: dict[str, Any] = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "status": status,
        "instance": "/v1/payments",
        "traceId": trace_id,
        "extraDetails": [{"name": "ErrorCode", "reason": code}] if code else [],
    }
    if detail is not None:
        body["detail"] = detail
    return httpx.Response(
        status,
        json=body,
        headers={"Content-Type": "application/problem+json", **(headers or {})},
    )


@dataclass
class FakeVipps:
    token_lifetime: str | int = "3600"
    token_answers: list[Answer] = field(default_factory=list)  # before normal issuing
    routes: dict[tuple[str, str], list[Answer]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    tokens_issued: int = 0

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes.setdefault((method, path), []).extend(answers)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == TOKEN_PATH:
            # Let other tasks run while the token is "in flight" (exposes double fetching).
            for _ in range(3):
                await asyncio.sleep(0)
            if self.token_answers:
                return _answer(self.token_answers.pop(0), request)
            self.tokens_issued += 1
            return httpx.Response(
                200,
                json={
                    "token_type": "Bearer",
                    "expires_in": self.token_lifetime,
                    "ext_expires_in": "0",
                    "expires_on": "1495271273",
                    "not_before": "1495184574",
                    "resource": "00000002-0000-0000-c000-000000000000",
                    "access_token": f"token-{self.tokens_issued}",
                },
            )
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            raise AssertionError(f"unexpected call {request.method} {request.url.path}")
        return _answer(queue.pop(0), request)

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == TOKEN_PATH]

    def api_requests(self, method: str | None = None) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.url.path != TOKEN_PATH and (method is None or r.method == method)
        ]

    def leftovers(self) -> dict[tuple[str, str], int]:
        return {route: len(queue) for route, queue in self.routes.items() if queue}


def _answer(answer: Answer, request: httpx.Request) -> httpx.Response:
    if isinstance(answer, httpx.Response):
        return answer
    return answer(request)


class FakeClock:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Harness:
    fake: FakeVipps
    client: VippsClient
    sleeps: SleepRecorder
    clock: FakeClock


class Harnesses:
    """Builds clients on a fake Vipps; closes them all at the end of the test."""

    def __init__(self) -> None:
        self._clients: list[VippsClient] = []

    def __call__(
        self, fake: FakeVipps | None = None, *, retry: RetryPolicy | None = None
    ) -> Harness:
        fake = fake or FakeVipps()
        sleeps, clock = SleepRecorder(), FakeClock()
        client = VippsClient(
            base_url=BASE_URL + "/",
            credentials=CREDENTIALS,
            system_name=SYSTEM_NAME,
            system_version=SYSTEM_VERSION,
            retry=retry or RetryPolicy(attempts=4, base_delay=0.5, max_delay=8.0),
            transport=httpx.MockTransport(fake.handle),
            sleep=sleeps,
            monotonic=clock,
        )
        self._clients.append(client)
        return Harness(fake, client, sleeps, clock)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.close()
