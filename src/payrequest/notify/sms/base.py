"""The SMS gateway interface, its receipt and error, and the checks every gateway makes first.

Length: an SMS is 160 GSM 03.38 characters (70 UCS-2 characters when the text has anything
outside that alphabet, such as an emoji); a longer text is split into parts of 153 (67)
characters that the phone joins again. We refuse texts of more than `MAX_PARTS` parts: a
receipt or a portal link never needs that much, and every part is paid for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from payrequest.config import SMS_SENDER_RULE, valid_sms_sender
from payrequest.errors import ValidationFailed
from payrequest.kit.phone import Phone, parse_phone
from payrequest.notify.errors import NotifyError

MAX_PARTS = 6
MAX_IDEMPOTENCY_KEY = 200

# GSM 03.38 default alphabet (one septet each) and its extension table (escape + one septet).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("^{}\\[~]|€\f")

Encoding = Literal["GSM", "UCS2"]


class SmsError(NotifyError):
    """An SMS was not (or perhaps not) delivered. See `NotifyError` for the flags."""


@dataclass(frozen=True, slots=True)
class SmsReceipt:
    gateway: str  # "sandbox", "gatewayapi"
    message_id: str  # the gateway's id for the message
    to: str  # E.164, as given


@dataclass(frozen=True, slots=True)
class SmsReply:
    """An SMS a person sent to our number (a reply), as any gateway hands it over."""

    gateway: str  # "sandbox", "gatewayapi"
    message_id: str  # the gateway's id of the incoming message: the same on every retry
    sender: str  # the sender's number as the gateway gives it (MSISDN digits or E.164)
    text: str  # what they wrote, without a keyword the gateway routes by


class SmsGateway(Protocol):
    """Sends one SMS to one mobile number.

    `to` is E.164 (`+4791234567`). `idempotency_key` identifies this one message: a gateway that
    can deduplicate on it does; one that cannot at least records it. `sender` overrides the
    configured sender id. Raises `SmsError` (never anything else for a delivery problem).
    """

    name: str

    async def send(
        self, *, to: str, text: str, idempotency_key: str, sender: str | None = None
    ) -> SmsReceipt: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SmsLength:
    encoding: Encoding
    units: int  # septets (GSM, extension characters count two) or UTF-16 code units (UCS2)
    parts: int


def sms_length(text: str) -> SmsLength:
    """How the text travels: encoding, length in that encoding, number of SMS parts."""
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        costs = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        return SmsLength("GSM", sum(costs), _parts(costs, single=160, multi=153))
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsLength("UCS2", sum(costs), _parts(costs, single=70, multi=67))


def _parts(costs: list[int], *, single: int, multi: int) -> int:
    if sum(costs) <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:  # an escape pair or a surrogate pair is never split across parts
        if used + cost > multi:
            parts, used = parts + 1, 0
        used += cost
    return parts


def check_message(
    *, to: str, text: str, idempotency_key: str, sender: str | None, default_sender: str
) -> tuple[Phone, str]:
    """Validate before any I/O; returns the parsed phone and the sender id to use.

    Raises SmsError(retryable=False) with a message that says what to fix.
    """
    if not to.startswith("+"):
        raise SmsError(f"{to!r} is not an E.164 number (expected e.g. +4791234567)", False)
    try:
        phone = parse_phone(to)
    except ValidationFailed as exc:
        raise SmsError(f"Cannot send an SMS: {exc.message}", False) from None
    if not text.strip():
        raise SmsError("Cannot send an empty SMS", False)
    length = sms_length(text)
    if length.parts > MAX_PARTS:
        per_part = 153 if length.encoding == "GSM" else 67
        raise SmsError(
            f"The SMS is too long: {length.units} {length.encoding} characters make "
            f"{length.parts} parts; at most {MAX_PARTS} parts ({MAX_PARTS * per_part} "
            "characters) are allowed",
            False,
        )
    if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        raise SmsError(f"The idempotency key must be 1-{MAX_IDEMPOTENCY_KEY} characters", False)
    chosen = default_sender if sender is None else sender
    if not valid_sms_sender(chosen):
        raise SmsError(f"The SMS sender must be {SMS_SENDER_RULE}; got {chosen!r}", False)
    return phone, chosen
