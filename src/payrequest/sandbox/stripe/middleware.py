"""ASGI middleware of the `/v1/...` paths: Stripe's response headers and the API faults.

Every API answer gets a `Request-Id` (`req_` + 14 letters and digits; the handlers see it as
`request.state.request_id`) and a `Stripe-Version` (the one asked for, else the emulator's).
The switches (docs/stripe.md#fault-switches): latency first; a 5xx or 429 is answered *before*
the call is handled (nothing happened); a timeout *after* it was handled (the work is done, the
answer lost): "hang" answers 504 after `hang_seconds`, "close" drops the connection.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payrequest.sandbox.stripe.emulator import StripeEmulator
from payrequest.sandbox.stripe.errors import StripeApiError, rate_limited
from payrequest.sandbox.stripe.model import ALPHABET

SERVER_ERRORS = (500, 502, 503)


class DroppedConnection(Exception):
    """Raised after the response started so that the server closes the connection."""


def new_request_id() -> str:
    return "req_" + "".join(secrets.choice(ALPHABET) for _ in range(14))


class StripeApiMiddleware:
    def __init__(self, app: ASGIApp, emulator: StripeEmulator) -> None:
        self.app = app
        self.emu = emulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _api_path(scope):
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        version = _header(scope, b"stripe-version") or self.emu.config.api_version
        extra = [(b"request-id", request_id.encode()), (b"stripe-version", version.encode())]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        faults = self.emu.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if self.emu.chance(faults.error_rate):
            status = self.emu.rng.choice(SERVER_ERRORS)
            error = StripeApiError(status, "api_error", "An injected server error occurred.")
            await _answer(send_with_headers, error)
            return
        if self.emu.chance(faults.rate_limit_rate):
            await _answer(send_with_headers, rate_limited())
            return
        if self.emu.chance(faults.timeout_rate):
            await self._time_out(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    async def _time_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def discard(message: Message) -> None:
            return None

        await self.app(scope, receive, discard)  # the work happens; its answer is lost
        faults = self.emu.faults
        if faults.timeout_mode == "close":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise DroppedConnection("injected fault: connection closed")
        await asyncio.sleep(faults.hang_seconds)
        await _answer(send, StripeApiError(504, "api_error", "The request timed out."))


def _api_path(scope: Scope) -> bool:
    path: str = scope["path"]
    root: str = scope.get("root_path", "").rstrip("/")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path.startswith("/v1/")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


async def _answer(send: Send, error: StripeApiError) -> None:
    payload = json.dumps(error.body()).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
