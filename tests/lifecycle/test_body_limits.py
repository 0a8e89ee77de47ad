"""Request bodies are capped per route before they are read (web.body_limits), on a real
server over a raw socket: a client that declares or streams too much gets 413 while most of
its body was never sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from payrequest.web.body_limits import DEFAULT_LIMIT, WEBHOOK_LIMIT
from tests.lifecycle.conftest import LiveServer

ANSWER_WITHIN = 10.0  # seconds; a server still waiting for the body never answers


@pytest.fixture
def live_options() -> dict[str, Any]:
    return {"run_worker": False}


async def _post(
    live: LiveServer, path: str, headers: dict[str, str], parts: list[bytes]
) -> tuple[int, dict[str, str], bytes]:
    """Send the request head and `parts` (nothing more, the connection stays open), then read
    the answer: (status, headers, body)."""
    port = int(live.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [
            f"POST {path} HTTP/1.1",
            "Host: 127.0.0.1",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        for part in parts:
            writer.write(part)
            await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), ANSWER_WITHIN)
        answer: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), ANSWER_WITHIN)) not in (
            b"\r\n",
            b"",
        ):
            name, _, value = line.decode().partition(":")
            answer[name.strip().lower()] = value.strip()
        length = int(answer.get("content-length", "0"))
        body = await asyncio.wait_for(reader.readexactly(length), ANSWER_WITHIN)
        return int(status_line.split()[1]), answer, body
    finally:
        writer.close()


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


async def test_a_webhook_declaring_more_than_its_limit_is_refused_before_a_byte_is_sent(
    live: LiveServer,
) -> None:
    for declared in (WEBHOOK_LIMIT + 1, 2 * WEBHOOK_LIMIT, 300 * 1024 * 1024):
        status, headers, body = await _post(
            live,
            "/webhooks/vipps",
            {"Content-Type": "application/json", "Content-Length": str(declared)},
            [],
        )
        assert status == 413, declared
        assert json.loads(body) == {"detail": "Request Entity Too Large"}
        assert headers["connection"] == "close"


async def test_a_chunked_webhook_is_cut_off_once_it_passes_the_limit(live: LiveServer) -> None:
    piece = b"x" * (16 * 1024)
    sent = [_chunk(piece) for _ in range(WEBHOOK_LIMIT // len(piece) + 2)]  # just over; no end
    status, _, body = await _post(
        live,
        "/webhooks/vipps",
        {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        sent,
    )
    assert status == 413
    assert json.loads(body) == {"detail": "Request Entity Too Large"}


async def test_a_webhook_under_the_limit_still_reaches_the_signature_check(
    live: LiveServer,
) -> None:
    body = b'{"reference": "' + b"x" * (WEBHOOK_LIMIT - 100) + b'"}'
    status, _, _ = await _post(
        live,
        "/webhooks/vipps",
        {"Content-Type": "application/json", "Content-Length": str(len(body))},
        [body],
    )
    assert status == 401  # read whole, then refused as unsigned


async def test_a_form_over_the_limit_gets_the_error_page(live: LiveServer) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    status, headers, body = await _post(
        live, "/login", {**form, "Content-Length": str(DEFAULT_LIMIT + 1)}, []
    )
    assert status == 413 and headers["content-type"].startswith("text/html")
    assert "<h1" in body.decode() and headers["connection"] == "close"

    piece = b"a" * (64 * 1024)
    sent = [_chunk(piece) for _ in range(DEFAULT_LIMIT // len(piece) + 2)]
    status, headers, body = await _post(
        live, "/login", {**form, "Transfer-Encoding": "chunked"}, sent
    )
    assert status == 413 and headers["content-type"].startswith("text/html")
