"""A real SMTP server on a free loopback port (aiosmtpd) that keeps what it receives.

A plugin of tests/conftest.py, so every test may ask for `mailbox_server` (one per module:
(mailbox, port)) and `mailbox` (the same, emptied for each test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from tests.servers import free_port


@dataclass
class Mailbox:
    received: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(parsed)
        return "250 2.0.0 Ok: queued"

    def last_text(self) -> str:
        """The plain-text body of the newest email."""
        assert self.received, "no email arrived"
        body = self.received[-1].get_body(("plain",))
        assert body is not None
        return str(body.get_content())


@pytest.fixture(scope="module")
def mailbox_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(mailbox_server: tuple[Mailbox, int]) -> Mailbox:
    mailbox_server[0].received.clear()
    return mailbox_server[0]
