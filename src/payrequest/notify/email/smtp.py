"""Email over SMTP with aiosmtplib: one connection per message, every timeout explicit.

Messages are UTF-8 (subject and names RFC 2047-encoded, bodies quoted-printable when they are
not plain ASCII), `multipart/alternative` (text first, HTML second) when HTML is given, and
carry a `Message-ID` derived from the idempotency key and the sender's domain, so a retried
send is recognisably the same message. `Auto-Submitted: auto-generated` (RFC 3834) keeps
auto-responders from answering.

Errors: connection problems, timeouts and 4xx replies (greylisting, "try again later") are
retryable; 5xx replies (unknown mailbox, refused credentials) and broken configuration are not.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from payrequest.config import SmtpSettings
from payrequest.kit.clock import utcnow
from payrequest.notify.errors import NotifyError

_ADDRESS = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+$")
MAX_SUBJECT = 250


class EmailError(NotifyError):
    """An email was not (or perhaps not) delivered. See `NotifyError` for the flags."""


@dataclass(frozen=True, slots=True)
class EmailReceipt:
    message_id: str  # `<...@domain>`, the same for every send with the same idempotency key
    to: str
    response: str  # the server's final reply, e.g. "250 OK: queued as 12345"


def message_id_for(idempotency_key: str, domain: str) -> str:
    """A Message-ID from the idempotency key: stable across retries, reveals nothing of the key."""
    digest = hashlib.sha256(f"payrequest-email\0{idempotency_key}".encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


class EmailSender:
    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int = 587,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        use_tls: bool = False,
        timeout: float = 15.0,
        tls_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        if starttls and use_tls:
            raise ValueError("use either implicit TLS (use_tls) or STARTTLS, not both")
        address = parseaddr(sender)[1]
        if not _ADDRESS.match(address):
            raise ValueError(f"the sender {sender!r} is not an email address")
        self.host = host
        self.port = port
        self.sender = sender
        self.domain = address.rsplit("@", 1)[1].lower()
        self.username = username
        self.password = password
        self.starttls = starttls
        self.use_tls = use_tls
        self.timeout = timeout
        self.tls_context = tls_context
        self._clock = clock

    @classmethod
    def from_settings(cls, smtp: SmtpSettings) -> EmailSender:
        if smtp.host is None:
            raise ValueError("no SMTP host configured")
        return cls(
            host=smtp.host,
            port=smtp.port,
            sender=smtp.sender,
            username=smtp.username,
            password=smtp.password.get_secret_value() if smtp.password else None,
            starttls=smtp.starttls,
            use_tls=smtp.use_tls,
            timeout=smtp.timeout_seconds,
        )

    def build_message(
        self, *, to: str, subject: str, text: str, html: str | None = None, idempotency_key: str
    ) -> EmailMessage:
        """The message exactly as it will be sent. Raises EmailError(retryable=False)."""
        _check(to=to, subject=subject, text=text, idempotency_key=idempotency_key)
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(self._clock())
        message["Message-ID"] = message_id_for(idempotency_key, self.domain)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(text, charset="utf-8", cte=_cte(text))
        if html is not None:
            message.add_alternative(html, subtype="html", charset="utf-8", cte=_cte(html))
        return message

    async def send(
        self,
        *,
        to: str,
        subject: str,
        text: str,
        html: str | None = None,
        idempotency_key: str,
    ) -> EmailReceipt:
        message = self.build_message(
            to=to, subject=subject, text=text, html=html, idempotency_key=idempotency_key
        )
        try:
            _refused, response = await aiosmtplib.send(
                message,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                start_tls=self.starttls,
                tls_context=self.tls_context,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise _email_error(exc, self.host, self.port) from exc
        return EmailReceipt(message_id=str(message["Message-ID"]), to=to, response=response)

    async def close(self) -> None:
        """Nothing to close: each message has its own connection."""


def _check(*, to: str, subject: str, text: str, idempotency_key: str) -> None:
    if not _ADDRESS.match(to):
        raise EmailError(f"{to!r} is not an email address (expected e.g. kari@example.no)", False)
    if not subject.strip() or len(subject) > MAX_SUBJECT:
        raise EmailError(f"The subject must be 1-{MAX_SUBJECT} characters", False)
    if "\r" in subject or "\n" in subject:
        raise EmailError("The subject must be one line", False)
    if not text.strip():
        raise EmailError("Cannot send an email without a text body", False)
    if not idempotency_key:
        raise EmailError("An idempotency key is required", False)


def _cte(body: str) -> str:
    return (
        "7bit"
        if body.isascii() and all(len(x) <= 78 for x in body.splitlines())
        else ("quoted-printable")
    )


def _email_error(exc: Exception, host: str, port: int) -> EmailError:
    where = f"{host}:{port}"
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
        return EmailError(f"{where} refused the recipient: {detail}", _temporary(min(codes)))
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return EmailError(f"{where} refused the login: {exc.code} {exc.message}", False)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        # A 4xx/5xx after DATA means the server did not take the message either way.
        return EmailError(f"{where} answered {exc.code} {exc.message}", _temporary(exc.code))
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return EmailError(f"{where}: {exc} (check PAYREQUEST_SMTP__STARTTLS/__USE_TLS)", False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return EmailError(f"{where}: TLS certificate not trusted ({exc.verify_message})", False)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        return EmailError(f"Cannot connect to the SMTP server {where}: {exc}", True)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | aiosmtplib.SMTPServerDisconnected):
        # The connection was up: the message may have been accepted just before it broke.
        return EmailError(f"{where}: {exc or type(exc).__name__}", True, maybe_sent=True)
    return EmailError(f"{where}: {type(exc).__name__}: {exc}", True)


def _temporary(code: int) -> bool:
    return 400 <= code < 500
