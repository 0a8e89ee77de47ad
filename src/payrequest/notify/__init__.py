"""Delivering messages to people: SMS (`notify.sms`) and email (`notify.email`).

Gateways are plain async objects built from settings by `notify.factory`. Each send takes an
idempotency key: the sandbox SMS gateway deduplicates on it, the email sender derives the
Message-ID from it, and GatewayAPI only records it (`userref`). Exactly-once delivery is the
caller's job: record the attempt and its key before calling, and treat an error whose
`maybe_sent` is true as "perhaps delivered" rather than retrying blindly.

This package talks to the outside world only (HTTP, SMTP); it never imports the database, the
domain packages, the web layer or the emulator (`payrequest.sandbox`).
"""

from payrequest.notify.email.smtp import EmailError, EmailReceipt, EmailSender
from payrequest.notify.errors import NotifyError
from payrequest.notify.factory import build_email_sender, build_sms_gateway
from payrequest.notify.sms.base import SmsError, SmsGateway, SmsReceipt

__all__ = [
    "EmailError",
    "EmailReceipt",
    "EmailSender",
    "NotifyError",
    "SmsError",
    "SmsGateway",
    "SmsReceipt",
    "build_email_sender",
    "build_sms_gateway",
]
