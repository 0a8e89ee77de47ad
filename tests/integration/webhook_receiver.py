"""A tiny HTTP server on loopback that receives webhooks for the tests: real sockets, real
HTTP/1.1, each request kept (path, headers, body) and answered with the next planned status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def verified(self, secret: str) -> dict[str, object]:
        """The body as the Standard Webhooks reference verifier reads it (raises if the
        signature, or the timestamp's tolerance, does not hold)."""
        found: dict[str, object] = Webhook(secret).verify(self.body, self.headers)
        return found


@dataclass
class Receiver:
    """`answers`: the statuses of the next requests, in order (then `otherwise`); `decide`,
    when set, answers instead."""

    answers: list[int] = field(default_factory=list)
    otherwise: int = 200
    decide: Callable[[Received], int] | None = None
    received: list[Received] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self) -> list[bytes]:
        return [r.body for r in self.received]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, _, rest = head.partition(b"\r\n")
            parsed = BytesHeaderParser().parsebytes(rest)
            headers = {key.lower(): value for key, value in parsed.items()}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            got = Received(request_line.split()[1].decode(), headers, body)
            self.received.append(got)
            if self.decide is not None:
                status = self.decide(got)
            else:
                status = self.answers.pop(0) if self.answers else self.otherwise
            text = f"answer {len(self.received)}: {status}".encode()
            writer.write(
                b"HTTP/1.1 %d X\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s"
                % (status, len(text), text)
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def receiving(**options: object) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)  # type: ignore[arg-type]
    server = await asyncio.start_server(receiver._handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        await server.wait_closed()
