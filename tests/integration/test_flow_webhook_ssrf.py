"""A flow's webhook goes only where the check said it may (issue 13, item 3).

A name that answers a checked address on the first lookup and 127.0.0.1 on the next (DNS
rebinding) is delivered to the checked address — real sockets on loopback, the system resolver
replaced — and https keeps the host name for SNI and the certificate check; every non-global
address is refused; redirects are not followed; the answer read is bounded; a server that
drips its answer is cut off by the delivery's deadline.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from payrequest.notify.webhook.destinations import DestinationRefused, check_url
from payrequest.notify.webhook.sender import WebhookError, WebhookSender

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


def rebinding(first: str) -> Callable[[str, int], Any]:
    """A resolver that answers `first` once, then 127.0.0.1."""
    answers = [first]

    async def resolver(host: str, port: int) -> list[str]:
        return [answers.pop()] if answers else ["127.0.0.1"]

    return resolver


@asynccontextmanager
async def server(
    host: str, port: int, answer: bytes, seen: list[bytes], tls: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """A one-answer HTTP server on `host`; `seen` gets each request's head."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            seen.append(head)
            writer.write(answer)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    listening = await asyncio.start_server(handle, host, port, ssl=tls)
    try:
        yield listening.sockets[0].getsockname()[1]
    finally:
        listening.close()
        await listening.wait_closed()


def ok(text: str) -> bytes:
    body = text.encode()
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\nconnection: close\r\n\r\n%s" % (
        len(body),
        body,
    )


async def test_a_rebinding_name_is_delivered_to_the_checked_address_not_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """127.0.0.2 stands for the checked (here: allowed) address; the system resolver answers it
    once for `rebind.test`, then 127.0.0.1 — where a secret internal service listens."""
    real = socket.getaddrinfo
    answers = ["127.0.0.2"]
    lookups: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("rebind.test", b"rebind.test"):
            address = answers.pop() if answers else "127.0.0.1"
            lookups.append(address)
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    checked: list[bytes] = []
    internal: list[bytes] = []
    sender = WebhookSender(allow=["127.0.0.2"])
    async with server("127.0.0.2", 0, ok("accepted"), checked) as port:
        try:
            async with server("127.0.0.1", port, ok("SECRET internal data"), internal):
                receipt = await sender.send(
                    url=f"http://rebind.test:{port}/hook", body="{}", secret=SECRET, msg_id="m1"
                )
        finally:
            await sender.close()
    assert internal == []
    assert receipt.body == "accepted" and "SECRET" not in receipt.body
    assert lookups == ["127.0.0.2"]  # one lookup: the one that was checked
    assert checked[0].lower().count(f"host: rebind.test:{port}".encode()) == 1


async def test_the_request_goes_to_the_checked_public_address_with_the_names_host_and_sni() -> None:
    """The injected resolver answers a public address first and 127.0.0.1 after: the transport
    is handed the public address; TLS still names the host."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, text="ok")

    sender = WebhookSender(
        transport=httpx.MockTransport(answer), resolver=rebinding("93.184.215.14")
    )
    await sender.send(url="https://hooks.example.com/in?x=1", body="{}", secret=SECRET, msg_id="a")
    with pytest.raises(WebhookError):  # the second delivery's lookup says 127.0.0.1: refused
        await sender.send(url="https://hooks.example.com/in", body="{}", secret=SECRET, msg_id="b")
    await sender.close()
    assert len(requests) == 1
    sent = requests[0]
    assert str(sent.url) == "https://93.184.215.14/in?x=1"
    assert sent.headers["host"] == "hooks.example.com"
    assert sent.extensions["sni_hostname"] == "hooks.example.com"


def _certificate(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem, private


@pytest.mark.parametrize(("served", "delivered"), [("hooks.test", True), ("other.test", False)])
async def test_https_to_the_pinned_address_checks_the_certificate_of_the_host_name(
    tmp_path: Any, served: str, delivered: bool
) -> None:
    pem, private = _certificate(served)
    (tmp_path / "cert.pem").write_bytes(pem)
    (tmp_path / "key.pem").write_bytes(private)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    trust = ssl.create_default_context(cadata=pem.decode())

    async def to_server(host: str, port: int) -> list[str]:
        return ["127.0.0.2"]

    seen: list[bytes] = []
    async with server("127.0.0.2", 0, ok("tls ok"), seen, tls=tls) as port:
        sender = WebhookSender(allow=["127.0.0.2"], resolver=to_server, verify=trust)
        try:
            if delivered:
                receipt = await sender.send(
                    url=f"https://hooks.test:{port}/", body="{}", secret=SECRET, msg_id="t"
                )
                assert receipt.body == "tls ok"
            else:
                with pytest.raises(WebhookError, match=r"CERTIFICATE_VERIFY_FAILED|hostname"):
                    await sender.send(
                        url=f"https://hooks.test:{port}/", body="{}", secret=SECRET, msg_id="t"
                    )
                assert seen == []
        finally:
            await sender.close()


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",
        "100.100.100.200",  # a cloud metadata service in the shared address space
        "100.127.255.254",
        "2002:7f00:1::1",  # 6to4 around 127.0.0.1
        "2002:a00:1::1",  # 6to4 around 10.0.0.1
        "2002:5db8:d70e::1",  # 6to4, even around a public address: a relay decides
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "64:ff9b::7f00:1",  # NAT64 around 127.0.0.1
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::ffff:127.0.0.1",
        "::ffff:100.100.100.200",
        "169.254.10.1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "ff02::1",
        "ff0e::1",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.0.8",
        "198.18.0.1",  # benchmarking
        "192.0.2.1",  # documentation
        "0.0.0.0",  # noqa: S104 - an address to refuse, nothing binds here
        "::",
    ],
)
async def test_every_non_global_address_is_refused(address: str) -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    with pytest.raises(DestinationRefused):
        await check_url("https://hooks.example.com/", resolver=resolver)
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(DestinationRefused):
        await check_url(f"http://{literal}/", resolver=public_resolver)
    # ... unless the operator allows it explicitly
    network = str(ipaddress.ip_network(address))
    assert await check_url("https://hooks.example.com/", resolver=resolver, allow=[network])


async def test_one_bad_address_among_good_ones_refuses_the_name() -> None:
    async def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "100.100.100.200"]

    with pytest.raises(DestinationRefused, match=r"100\.100\.100\.200"):
        await check_url("https://hooks.example.com/", resolver=resolver)


async def test_redirects_are_not_followed() -> None:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(302, headers={"location": "http://127.0.0.1/admin"})

    sender = WebhookSender(transport=httpx.MockTransport(answer), resolver=public_resolver)
    with pytest.raises(WebhookError, match="answered 302") as caught:
        await sender.send(url="https://hooks.example.com/", body="{}", secret=SECRET, msg_id="r")
    await sender.close()
    assert not caught.value.retryable
    assert [str(r.url) for r in requests] == ["https://93.184.215.14/"]


async def test_only_the_start_of_an_endless_answer_is_read() -> None:
    chunks = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal chunks
        while True:
            chunks += 1
            yield b"x" * 65536
            await asyncio.sleep(0)

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=endless())

    sender = WebhookSender(transport=httpx.MockTransport(answer), resolver=public_resolver)
    receipt = await asyncio.wait_for(
        sender.send(url="https://hooks.example.com/", body="{}", secret=SECRET, msg_id="e"), 5
    )
    await sender.close()
    assert receipt.body == "x" * 300  # what the run log keeps
    assert chunks <= 2


async def test_a_server_dripping_its_answer_is_cut_off_by_the_deadline() -> None:
    async def drip() -> AsyncIterator[bytes]:
        while True:
            await asyncio.sleep(0.05)
            yield b"."

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip())

    sender = WebhookSender(
        transport=httpx.MockTransport(answer), resolver=public_resolver, deadline=0.5
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(WebhookError, match="timed out") as caught:
        await asyncio.wait_for(
            sender.send(url="https://hooks.example.com/", body="{}", secret=SECRET, msg_id="d"),
            5,
        )
    await sender.close()
    assert loop.time() - started < 2
    assert caught.value.retryable and caught.value.maybe_sent
