"""Helpers for the emulator tests: an API client with valid credentials, a real webhook
receiver, a mounted parent app and the contract hook that checks every response."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from payrequest.sandbox import sandbox_of_app
from payrequest.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_MSN
from payrequest.sandbox.config import DEFAULT_SUBSCRIPTION_KEY as SUB_KEY
from payrequest.sandbox.emulator import Sandbox
from tests.contract.checker import checker

FAST_RETRIES = (0.05, 0.1, 0.2)
RECEIPT = {
    "orderLines": [
        {
            "name": "Invoice 10023",
            "id": "10023",
            "totalAmount": 49900,
            "totalAmountExcludingTax": 39920,
            "totalTaxAmount": 9980,
            "taxPercentage": 25,
            "unitInfo": {"unitPrice": 49900, "quantity": "1", "quantityUnit": "PCS"},
        }
    ],
    "bottomLine": {"currency": "NOK"},
}


def error_code(response: httpx.Response) -> str | None:
    for detail in response.json().get("extraDetails") or []:
        if detail["name"] == "ErrorCode":
            return str(detail["reason"])
    return None


def new_reference() -> str:
    return f"test-{uuid.uuid4().hex[:16]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_body(reference: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": {"currency": "NOK", "value": 49900},
        "paymentMethod": {"type": "WALLET"},
        "customer": {"phoneNumber": "4791234567"},
        "reference": reference,
        "userFlow": "PUSH_MESSAGE",
        "paymentDescription": "Invoice 10023",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


async def check_contract(response: httpx.Response) -> None:
    """An httpx response hook: the answer must keep the contract (tests/contract/checker.py)."""
    await response.aread()
    checker().check(
        response.request.method,
        response.request.url.path,
        response.status_code,
        response.headers.get("content-type", ""),
        response.content,
        request_body=response.request.content,
    )


class Api:
    """A thin client for the emulated API with valid credentials."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Ocp-Apim-Subscription-Key": SUB_KEY,
            "Merchant-Serial-Number": DEFAULT_MSN,
        }
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def create(
        self, reference: str | None = None, key: str | None = None, **overrides: Any
    ) -> httpx.Response:
        body = create_body(reference or new_reference(), **overrides)
        return await self.post("/epayment/v1/payments", body, key or uuid.uuid4().hex)

    async def post(self, path: str, body: Any, key: str | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers(key))

    async def get(self, reference: str) -> httpx.Response:
        return await self.http.get(f"/epayment/v1/payments/{reference}", headers=self.headers())

    async def events(self, reference: str) -> httpx.Response:
        path = f"/epayment/v1/payments/{reference}/events"
        return await self.http.get(path, headers=self.headers())

    async def modify(
        self,
        op: str,
        reference: str,
        value: int | None = None,
        key: str | None = None,
        body: Any = None,
        currency: str = "NOK",
    ) -> httpx.Response:
        if body is None:
            body = (
                {}
                if value is None
                else {"modificationAmount": {"currency": currency, "value": value}}
            )
        path = f"/epayment/v1/payments/{reference}/{op}"
        return await self.post(path, body, key or uuid.uuid4().hex)

    async def approve(self, reference: str, body: Any = None) -> httpx.Response:
        path = f"/epayment/v1/test/payments/{reference}/approve"
        return await self.http.post(path, json=body or {}, headers=self.headers())

    async def advance(self, sb: Sandbox, seconds: float) -> None:
        """Move the emulator's clock and fetch a new token (the old one may have expired)."""
        sb.clock.advance(seconds)
        self.token = await fetch_token(self.http)

    async def authorized(self, value: int = 49900) -> str:
        reference = new_reference()
        created = await self.create(reference, amount={"currency": "NOK", "value": value})
        assert created.status_code == 201, created.text
        approved = await self.approve(reference)
        assert approved.status_code == 200, approved.text
        return reference


async def fetch_token(http: httpx.AsyncClient) -> str:
    response = await http.post(
        "/accesstoken/get",
        headers={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "Ocp-Apim-Subscription-Key": SUB_KEY,
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


# --- a real webhook receiver on 127.0.0.1 ---------------------------------------------


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    port: int = 0
    calls: list[Received] = field(default_factory=list)
    script: deque[int] = field(default_factory=deque)  # statuses to answer, then 200
    delays: deque[float] = field(default_factory=deque)  # seconds to stall before answering
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hooks/vipps?env=test") -> str:
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
        if self.delays:
            await asyncio.sleep(self.delays.popleft())
        status = self.script.popleft() if self.script else 200
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        query = scope["query_string"].decode()
        self.calls.append(Received(scope["path"], query, headers, body, status))
        self.arrived.set()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def ok(self) -> list[Received]:
        return [c for c in self.calls if c.status < 300]

    async def wait_for(self, count: int, within: float = 5.0, ok_only: bool = True) -> None:
        deadline = time.monotonic() + within
        while len(self.ok() if ok_only else self.calls) < count:
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"expected {count} webhook calls, got {len(self.calls)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout=left)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (a few seconds at most) until `condition()` holds."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"gave up waiting for {what}")


async def until_started(server: uvicorn.Server) -> None:
    for _ in range(1000):
        if server.started:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("uvicorn did not start")


# --- the emulator under uvicorn in a thread, mounted like the demo mounts it ------------


@dataclass
class LiveServer:
    base: str  # e.g. http://127.0.0.1:PORT/sandbox/vipps
    app: FastAPI


def mounted_parent(sandbox: FastAPI, mount: str) -> FastAPI:
    """A parent app mounting the emulator the way payrequest's demo does."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sandbox_of_app(sandbox).start()
        try:
            yield
        finally:
            await sandbox_of_app(sandbox).stop()

    parent = FastAPI(lifespan=lifespan)
    parent.mount(mount, sandbox)
    return parent
