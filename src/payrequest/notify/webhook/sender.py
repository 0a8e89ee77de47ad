"""Delivering a signed webhook over HTTP: the one sender of the automations' webhook action and
of the organisations' webhook endpoints (docs/webhooks.md), so both go only where
`destinations.check_url` allows.

The URL's host is resolved once and every address checked (`destinations.check_url`); the
request then goes to a checked address itself — the URL's host replaced by the address, the
`Host` header and, for https, the TLS server name (SNI) and certificate check kept on the host
name — so a name that answers differently on a second lookup (DNS rebinding) cannot lead the
request anywhere unchecked. Redirects are not followed, connections are not reused (a pooled
connection belongs to one host name), the whole exchange has a deadline, and only the start of
the answer is read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx

from payrequest.errors import ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.notify.errors import NotifyError
from payrequest.notify.webhook import signing
from payrequest.notify.webhook.destinations import Resolver, check_url, resolve

TIMEOUT = httpx.Timeout(5.0, connect=3.0)  # per network operation
DEADLINE = 10.0  # seconds for the whole delivery: connect, send, answer
MAX_ANSWER = 4096  # bytes of the answer read; a caller keeps the first `keep` characters
KEPT = 300  # what the automations' run log keeps of an answer


class WebhookError(NotifyError):
    """A webhook delivery failed. See `NotifyError` for the flags; `status_code` and
    `answer` (its start) when the receiver answered, else None and ""."""

    def __init__(
        self,
        message: str,
        retryable: bool,
        *,
        maybe_sent: bool = False,
        status_code: int | None = None,
        answer: str = "",
    ) -> None:
        super().__init__(message, retryable, maybe_sent=maybe_sent)
        self.status_code = status_code
        self.answer = answer


@dataclass(frozen=True, slots=True)
class WebhookReceipt:
    status_code: int
    msg_id: str
    body: str  # the start of the answer: the first `keep` characters


def pinned(url: httpx.URL, address: str) -> tuple[httpx.URL, dict[str, str], dict[str, str]]:
    """The request URL aimed at `address`, the Host header, and the request extensions that
    keep TLS on the URL's host name."""
    host = url.host
    ip = address.split("%", 1)[0]
    try:
        literal = str(ipaddress.ip_address(host)) == str(ipaddress.ip_address(ip))
    except ValueError:
        literal = False
    if literal:
        return url, {}, {}
    headers = {"host": url.netloc.decode("ascii")}
    extensions = {"sni_hostname": url.raw_host.decode("ascii")} if url.scheme == "https" else {}
    return url.copy_with(host=ip), headers, extensions


class WebhookSender:
    def __init__(
        self,
        *,
        allow: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve,
        deadline: float = DEADLINE,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow = tuple(allow)
        self.resolver = resolver
        self.deadline = deadline
        self._http = httpx.AsyncClient(
            timeout=TIMEOUT,
            transport=transport,
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            verify=verify,
        )

    async def send(
        self,
        *,
        url: str,
        body: str,
        secret: str | Sequence[str],
        msg_id: str,
        keep: int = KEPT,
    ) -> WebhookReceipt:
        """POST `body` signed with `secret` (several: one signature each). Raises
        WebhookError: not retryable when the URL is refused or the answer says the request
        is wrong, retryable for network trouble, timeouts, 408/409/425/429 and 5xx."""
        try:
            # again: DNS may have changed since saving; the answer is used for the connection
            addresses = await check_url(url, allow=self.allow, resolver=self.resolver)
        except ValidationFailed as exc:
            raise WebhookError(exc.message, False) from None
        raw = body.encode("utf-8")
        headers = signing.headers(
            secret, msg_id=msg_id, timestamp=int(utcnow().timestamp()), body=raw
        )
        headers["user-agent"] = "payrequest-webhooks/1"
        headers["accept-encoding"] = "identity"  # the answer's size is what is read
        target = httpx.URL(url.strip())
        try:
            async with asyncio.timeout(self.deadline):
                status, answer = await self._post(target, addresses, raw, headers)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise WebhookError(f"{url}: timed out ({exc})", True, maybe_sent=True) from exc
        except httpx.HTTPError as exc:
            raise WebhookError(f"{url}: {type(exc).__name__}: {exc}", True) from exc
        if 200 <= status < 300:
            return WebhookReceipt(status, msg_id, answer[:keep])
        retryable = status in (408, 409, 425, 429) or status >= 500
        raise WebhookError(
            f"{url} answered {status}: {answer[:200]}",
            retryable,
            maybe_sent=True,
            status_code=status,
            answer=answer[:keep],
        )

    async def _post(
        self, url: httpx.URL, addresses: list[str], raw: bytes, headers: dict[str, str]
    ) -> tuple[int, str]:
        """POST to the first checked address that accepts a connection."""
        for index, address in enumerate(addresses):
            aimed, host, extensions = pinned(url, address)
            request = self._http.build_request(
                "POST", aimed, content=raw, headers={**headers, **host}, extensions=extensions
            )
            try:
                response = await self._http.send(request, stream=True)
            except httpx.ConnectError:
                if index == len(addresses) - 1:
                    raise
                continue
            try:
                return response.status_code, await _start_of(response)
            finally:
                await response.aclose()
        raise httpx.ConnectError(f"{url.host} has no address")

    async def close(self) -> None:
        await self._http.aclose()


async def _start_of(response: httpx.Response) -> str:
    """The first MAX_ANSWER bytes of the answer, decoded; the rest is never read."""
    kept = b""
    async for chunk in response.aiter_bytes():
        kept += chunk[: MAX_ANSWER - len(kept)]
        if len(kept) >= MAX_ANSWER:
            break
    return kept.decode(response.encoding or "utf-8", errors="replace")
