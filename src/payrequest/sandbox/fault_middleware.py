"""ASGI middleware that injects the API faults: latency, 5xx, 429 and timeouts.

Only the emulated API paths are affected, never the phone pages or `/faults`. A 5xx or 429 is
answered *before* the request is handled (nothing happened). A timeout happens *after* it was
handled: the work is done but the answer never arrives in time — the case a client must
reconcile with a GET or a same-key retry. `timeout_mode` "hang" waits `hang_seconds` and then
answers 504; "close" drops the connection after the status line.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from payrequest.sandbox.emulator import Sandbox

API_PREFIXES = ("/accesstoken", "/accessToken", "/epayment", "/webhooks")
SERVER_ERRORS = (500, 502, 503)


class DroppedConnection(Exception):
    """Raised after the response started so the server closes the connection."""


class FaultMiddleware:
    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sb = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._is_api(scope):
            await self.app(scope, receive, send)
            return
        faults = self.sb.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if self.sb.chance(faults.error_rate):
            status = self.sb.rng.choice(SERVER_ERRORS)
            await _json(send, status, {"statusCode": status, "message": "Injected server error"})
            return
        if self.sb.chance(faults.rate_limit_rate):
            body = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."}
            await _json(send, 429, body, retry_after=True)
            return
        if self.sb.chance(faults.timeout_rate):
            await self._time_out(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _is_api(self, scope: Scope) -> bool:
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path.startswith(API_PREFIXES)

    async def _time_out(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def discard(message: Message) -> None:
            return None

        await self.app(scope, receive, discard)  # the work happens; its answer is lost
        faults = self.sb.faults
        if faults.timeout_mode == "close":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise DroppedConnection("injected fault: connection closed")
        await asyncio.sleep(faults.hang_seconds)
        await _json(send, 504, {"statusCode": 504, "message": "Gateway timeout"})


async def _json(send: Send, status: int, body: object, retry_after: bool = False) -> None:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
