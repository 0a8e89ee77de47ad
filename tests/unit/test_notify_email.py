"""Building email messages: UTF-8 headers and bodies, multipart, deterministic Message-ID."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from payrequest.notify.email import EmailError, EmailSender, message_id_for

NOW = datetime(2027, 2, 1, 9, 30, tzinfo=UTC)


def sender(address: str = "Kafé Ås <post@Kafe.Example.no>") -> EmailSender:
    return EmailSender(host="127.0.0.1", port=2525, sender=address, clock=lambda: NOW)


def wire(message: EmailMessage) -> EmailMessage:
    """Through bytes and back (with \\n line ends), as a receiving program parses it."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def build(**overrides: str | None) -> EmailMessage:
    arguments: dict[str, str | None] = {
        "to": "kari@example.no",
        "subject": "Faktura 10023 er betalt",
        "text": "Hei Kari,\ntakk for betalingen.\n",
        "html": None,
        "idempotency_key": "flow-1:event-2:action-0",
    }
    arguments.update(overrides)
    return sender().build_message(**arguments)  # type: ignore[arg-type]


def test_plain_message_headers() -> None:
    message = wire(build())
    assert message["To"] == "kari@example.no"
    assert message["From"].addresses[0].display_name == "Kafé Ås"
    assert message["From"].addresses[0].addr_spec == "post@Kafe.Example.no"
    assert message["Date"].datetime == NOW
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert message.get_content() == "Hei Kari,\ntakk for betalingen.\n"


def test_utf8_subject_is_encoded_on_the_wire_and_decodes_back() -> None:
    subject = "Kvittering fra Kafé Ås: blåbærsyltetøy, ÆØÅ æøå"
    raw = build(subject=subject).as_bytes(policy=policy.SMTP)
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    assert header_block.isascii()  # RFC 2047 encoded words, no raw 8-bit in headers
    assert b"=?utf-8?" in header_block
    assert wire(build(subject=subject))["Subject"] == subject


def test_non_ascii_body_is_quoted_printable_utf8() -> None:
    message = build(text="Beløp: kr 1 234,50 — takk!\n")
    assert message["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.as_bytes().isascii()
    assert wire(message).get_content() == "Beløp: kr 1 234,50 — takk!\n"


def test_html_makes_multipart_alternative_text_first() -> None:
    message = wire(build(html="<p>Hei <b>Kari</b>, takk for betalingen på kr 499,00.</p>"))
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[1].get_content() == "<p>Hei <b>Kari</b>, takk for betalingen på kr 499,00.</p>\n"
    assert message["Message-ID"] == build()["Message-ID"]


def test_message_id_is_deterministic_per_key_and_uses_the_sender_domain() -> None:
    first = build()["Message-ID"]
    assert build()["Message-ID"] == first  # a retry: same id
    assert build(idempotency_key="other")["Message-ID"] != first
    assert first == message_id_for("flow-1:event-2:action-0", "kafe.example.no")
    assert first.startswith("<") and first.endswith("@kafe.example.no>")
    assert "flow-1" not in first  # the key itself is not revealed
    plain = sender("payrequest@localhost").build_message(
        to="a@example.no", subject="S", text="T", idempotency_key="flow-1:event-2:action-0"
    )
    assert plain["Message-ID"] == message_id_for("flow-1:event-2:action-0", "localhost")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"to": "not-an-address"}, "is not an email address"),
        ({"to": "a@example.no, b@example.no"}, "is not an email address"),
        ({"to": "a@example.no\r\nBcc: c@example.no"}, "is not an email address"),
        ({"subject": "Hi\r\nBcc: c@example.no"}, "The subject must be one line"),
        ({"subject": " "}, "The subject must be 1-250"),
        ({"subject": "x" * 251}, "The subject must be 1-250"),
        ({"text": ""}, "without a text body"),
        ({"idempotency_key": ""}, "idempotency key is required"),
    ],
)
def test_invalid_input_is_refused_for_good(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(EmailError) as info:
        build(**overrides)
    assert message in info.value.message
    assert info.value.retryable is False


def test_constructor_refuses_broken_configuration() -> None:
    with pytest.raises(ValueError, match="not both"):
        EmailSender(host="h", sender="a@example.no", starttls=True, use_tls=True)
    with pytest.raises(ValueError, match="not an email address"):
        EmailSender(host="h", sender="payrequest")
