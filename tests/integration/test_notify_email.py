"""EmailSender against a real SMTP server (aiosmtpd) on a free loopback port: plain, STARTTLS
with a self-signed certificate, implicit TLS, login, and the retryable/permanent split."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from payrequest.notify.email import EmailError, EmailSender
from tests.servers import free_port

SENDER = "Kafé Ås <post@kafe.example.no>"


@dataclass
class Mailbox:
    """An aiosmtpd handler that keeps what it accepts; replies can be forced per test."""

    received: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply:
            return self.data_reply
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((envelope, parsed))
        return "250 2.0.0 Ok: queued as 4711"

    def authenticate(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"shop", b"s3cret-pw")
        return AuthResult(success=ok, handled=False)


def start(mailbox: Mailbox, **smtp_parameters: Any) -> Controller:
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        ready_timeout=5,
        **smtp_parameters,
    )
    controller.start()
    return controller


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def server(mailbox: Mailbox) -> Iterator[Controller]:
    controller = start(mailbox)
    yield controller
    controller.stop()


def content(part: MIMEPart) -> str:
    """The decoded body with the wire's CRLF line ends turned back into newlines."""
    return str(part.get_content()).replace("\r\n", "\n")


def plain_sender(server: Controller, **kwargs: Any) -> EmailSender:
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "sender": SENDER,
        "starttls": False,
        "timeout": 5,
    }
    options.update(kwargs)
    return EmailSender(**options)


async def test_plain_text_mail_arrives_with_proper_headers(
    server: Controller, mailbox: Mailbox
) -> None:
    sender = plain_sender(server)
    receipt = await sender.send(
        to="kari.nordmann@example.no",
        subject="Kvittering: faktura 10023 er betalt — takk, Kåre Ærø!",
        text="Hei Kari,\n\nvi har mottatt kr 1 234,50 for faktura 10023.\n\nHilsen Kafé Ås\n",
        idempotency_key="flow-1:event-9:action-0",
    )
    [(envelope, message)] = mailbox.received
    assert envelope.mail_from == "post@kafe.example.no"
    assert envelope.rcpt_tos == ["kari.nordmann@example.no"]
    assert message["Subject"] == "Kvittering: faktura 10023 er betalt — takk, Kåre Ærø!"
    assert message["From"].addresses[0].display_name == "Kafé Ås"
    assert message["To"] == "kari.nordmann@example.no"
    assert message["Message-ID"] == receipt.message_id
    assert receipt.message_id.endswith("@kafe.example.no>")
    assert message["Date"].datetime.tzinfo is not None
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert content(message) == (
        "Hei Kari,\n\nvi har mottatt kr 1 234,50 for faktura 10023.\n\nHilsen Kafé Ås\n"
    )
    assert "queued as 4711" in receipt.response
    assert mailbox.logins == []


async def test_html_mail_is_multipart_alternative(server: Controller, mailbox: Mailbox) -> None:
    sender = plain_sender(server)
    html = "<p>Hei <b>Kari</b>, betalingen på <em>kr 499,00</em> er mottatt.</p>"
    await sender.send(
        to="kari@example.no",
        subject="Betaling mottatt",
        text="Hei Kari, betalingen på kr 499,00 er mottatt.",
        html=html,
        idempotency_key="k-html",
    )
    [(_envelope, message)] = mailbox.received
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert content(parts[0]) == "Hei Kari, betalingen på kr 499,00 er mottatt.\n"
    assert content(parts[1]) == html + "\n"
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    assert body.get_content_charset() == "utf-8"


async def test_a_retried_send_carries_the_same_message_id(
    server: Controller, mailbox: Mailbox
) -> None:
    sender = plain_sender(server)
    for _ in range(2):
        await sender.send(to="a@example.no", subject="S", text="T", idempotency_key="same")
    await sender.send(to="a@example.no", subject="S", text="T", idempotency_key="other")
    ids = [message["Message-ID"] for _envelope, message in mailbox.received]
    assert ids[0] == ids[1] != ids[2]


@pytest.mark.parametrize(
    ("reply", "hook", "retryable"),
    [
        ("451 4.7.1 Greylisted, try again later", "rcpt_reply", True),
        ("550 5.1.1 No such mailbox", "rcpt_reply", False),
        ("452 4.3.1 Insufficient system storage", "data_reply", True),
        ("554 5.7.1 Message rejected as spam", "data_reply", False),
    ],
)
async def test_smtp_replies_map_to_retryable_or_not(
    server: Controller, mailbox: Mailbox, reply: str, hook: str, retryable: bool
) -> None:
    setattr(mailbox, hook, reply)
    with pytest.raises(EmailError) as info:
        await plain_sender(server).send(
            to="a@example.no", subject="S", text="T", idempotency_key="k"
        )
    assert info.value.retryable is retryable
    assert reply.split()[0] in info.value.message
    assert mailbox.received == []


async def test_nobody_listening_is_retryable() -> None:
    sender = EmailSender(
        host="127.0.0.1", port=free_port(), sender=SENDER, starttls=False, timeout=2
    )
    with pytest.raises(EmailError) as info:
        await sender.send(to="a@example.no", subject="S", text="T", idempotency_key="k")
    assert info.value.retryable
    assert not info.value.maybe_sent


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []
    done = asyncio.Event()

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await done.wait()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    done.set()
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_server_that_never_answers_times_out_retryably(silent_server: int) -> None:
    sender = EmailSender(
        host="127.0.0.1", port=silent_server, sender=SENDER, starttls=False, timeout=0.3
    )
    with pytest.raises(EmailError) as info:
        await sender.send(to="a@example.no", subject="S", text="T", idempotency_key="k")
    assert info.value.retryable


# --- TLS and login --------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, trusted by the client context only."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return Certificate(server=server, client=client)


async def test_starttls_with_login(certificate: Certificate, mailbox: Mailbox) -> None:
    controller = start(
        mailbox,
        tls_context=certificate.server,
        require_starttls=True,
        authenticator=mailbox.authenticate,
    )
    try:
        sender = EmailSender(
            host="127.0.0.1",
            port=controller.port,
            sender=SENDER,
            username="shop",
            password="s3cret-pw",
            starttls=True,
            timeout=5,
            tls_context=certificate.client,
        )
        await sender.send(to="a@example.no", subject="TLS", text="T", idempotency_key="tls")
        wrong = EmailSender(
            host="127.0.0.1",
            port=controller.port,
            sender=SENDER,
            username="shop",
            password="wrong",
            timeout=5,
            tls_context=certificate.client,
        )
        with pytest.raises(EmailError) as info:
            await wrong.send(to="a@example.no", subject="S", text="T", idempotency_key="k")
    finally:
        controller.stop()
    assert [message["Subject"] for _e, message in mailbox.received] == ["TLS"]
    assert mailbox.logins[0] == (b"shop", b"s3cret-pw")
    assert set(mailbox.logins[1:]) == {(b"shop", b"wrong")}  # one try per offered mechanism
    assert not info.value.retryable
    assert "refused the login" in info.value.message


async def test_untrusted_certificate_is_not_retryable(
    certificate: Certificate, mailbox: Mailbox
) -> None:
    controller = start(mailbox, tls_context=certificate.server, require_starttls=True)
    try:
        sender = EmailSender(host="127.0.0.1", port=controller.port, sender=SENDER, timeout=5)
        with pytest.raises(EmailError) as info:
            await sender.send(to="a@example.no", subject="S", text="T", idempotency_key="k")
    finally:
        controller.stop()
    assert not info.value.retryable
    assert "certificate" in info.value.message


async def test_implicit_tls(certificate: Certificate, mailbox: Mailbox) -> None:
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=free_port(),
        ready_timeout=5,
        ssl_context=certificate.server,
    )
    controller.start()
    try:
        sender = EmailSender(
            host="127.0.0.1",
            port=controller.port,
            sender=SENDER,
            starttls=False,
            use_tls=True,
            timeout=5,
            tls_context=certificate.client,
        )
        await sender.send(to="a@example.no", subject="SMTPS", text="T", idempotency_key="k")
    finally:
        controller.stop()
    assert [message["Subject"] for _e, message in mailbox.received] == ["SMTPS"]
