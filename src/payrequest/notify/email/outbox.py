"""The demo's outbox: where email goes when there is no SMTP server to send it through.

`payrequest demo` (sandbox mode) runs without an SMTP server, yet a sign-up needs its
verification link. In sandbox mode with no `PAYREQUEST_SMTP__HOST`, `sender_for` gives an
`OutboxSender`: it builds each message exactly as the SMTP sender would and appends it, one
JSON line, to `<var_dir>/outbox.jsonl`; the page /sandbox/outbox (web.outbox) shows them,
guarded like the emulator's phone. In production (any other provider mode) `sender_for` is
the SMTP sender or None, never the outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from payrequest.config import ProviderMode, Settings
from payrequest.notify.email.smtp import EmailReceipt, EmailSender

FILE_NAME = "outbox.jsonl"
SENDER = "payrequest demo <outbox@payrequest.invalid>"
KEEP = 200  # the page shows (and the file keeps, once it grows) the newest this many
MAX_BYTES = 2_000_000  # past this the file is cut back to its newest KEEP messages


@dataclass(frozen=True, slots=True)
class Kept:
    """One email in the outbox."""

    message_id: str
    to: str
    subject: str
    text: str
    sent_at: datetime


class OutboxSender(EmailSender):
    """An EmailSender that keeps its messages in a local file instead of sending them."""

    name = "outbox"

    def __init__(self, path: Path, *, sender: str = SENDER) -> None:
        super().__init__(host="outbox", port=0, sender=sender, starttls=False)
        self.path = path

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
        body = message.get_body(("plain",))
        record = {
            "message_id": str(message["Message-ID"]),
            "to": to,
            "subject": subject,
            "text": str(body.get_content()) if body is not None else text,
            "date": str(message["Date"]),
        }
        await asyncio.to_thread(_append, self.path, json.dumps(record, ensure_ascii=False))
        return EmailReceipt(message_id=record["message_id"], to=to, response="kept in the outbox")


def outbox_path(settings: Settings) -> Path:
    return Path(settings.var_dir) / FILE_NAME


def in_use(settings: Settings) -> bool:
    """Whether this installation keeps email in the outbox: sandbox mode without SMTP."""
    return settings.provider_mode is ProviderMode.sandbox and not settings.smtp.host


def sender_for(configured: EmailSender | None, settings: Settings) -> EmailSender | None:
    """The sender for account emails: the configured SMTP sender (`runtime.email`); without
    one, the outbox in sandbox mode, and None (email off) otherwise."""
    if configured is not None:
        return configured
    return OutboxSender(outbox_path(settings)) if in_use(settings) else None


def _append(path: Path, line: str) -> None:
    """One line per message, written with one `write` to a file opened for appending, so
    several processes may add messages at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, data)
    finally:
        os.close(descriptor)
    if path.stat().st_size > MAX_BYTES:
        _trim(path)


def _trim(path: Path) -> None:
    lines = path.read_text("utf-8", errors="replace").splitlines()[-KEEP:]
    spare = path.with_suffix(".tmp")
    spare.write_text("".join(f"{line}\n" for line in lines), "utf-8")
    spare.replace(path)


def read(path: Path, *, limit: int = KEEP) -> list[Kept]:
    """The newest `limit` messages, newest first; a message sent again (the same
    Message-ID) shows once. A line that cannot be read is skipped."""
    try:
        lines = path.read_text("utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    found: list[Kept] = []
    seen: set[str] = set()
    for line in reversed(lines):
        kept = _parse(line)
        if kept is None or kept.message_id in seen:
            continue
        seen.add(kept.message_id)
        found.append(kept)
        if len(found) >= limit:
            break
    return found


def _parse(line: str) -> Kept | None:
    try:
        record = json.loads(line)
        return Kept(
            message_id=str(record["message_id"]),
            to=str(record["to"]),
            subject=str(record["subject"]),
            text=str(record["text"]),
            sent_at=parsedate_to_datetime(str(record["date"])),
        )
    except (ValueError, KeyError, TypeError):
        return None
