"""A customer's SMS reply: a stop word opts every customer with the sender's number out of
reminders, in every organisation of the installation.

Replies come to the installation's one SMS number (whichever gateway it uses), so the person
cannot say which business they mean, and one person may be a customer of several: a stop word
opts out every customer with that mobile number. Each change is recorded in the audit log of
the customer's organisation as `OPTED_OUT_BY_SMS` (no staff member: the customer did it), and
the customer card says so. Only the customer switches reminders on again (in the portal).

Idempotent: a gateway sends the same message again until it is acknowledged, and a customer
already opted out is left as they are and nothing more is recorded. Any other text changes
nothing. The session must act for all organisations (db.scope.ALL); the caller commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import read as audit_read
from payrequest.audit import service as audit
from payrequest.customers import repository
from payrequest.customers.models import Customer
from payrequest.customers.service import masked_phone
from payrequest.errors import ValidationFailed
from payrequest.kit.phone import parse_phone

# The words that stop reminders when a reply starts with one (any case): Norwegian and Danish,
# Swedish and English "stop", Danish "afmeld", Norwegian "avmeld", and "unsubscribe".
STOP_WORDS = frozenset({"STOP", "STOPP", "AFMELD", "AVMELD", "UNSUBSCRIBE"})
OPTED_OUT_BY_SMS = "customer.opted_out_by_sms"  # the audit log's action
_REMINDER_CHANGES = ("customer.reminders", OPTED_OUT_BY_SMS)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReplyApplied:
    stop: bool  # the reply began with a stop word
    opted_out: int  # customers opted out by it now (0 when they were already, or none has it)


def stop_word(text: str) -> str | None:
    """The stop word `text` begins with, in capitals (punctuation after it is allowed: "Stop!");
    None when it begins with another word."""
    words = text.split(maxsplit=1)
    if not words:
        return None
    first = words[0].strip(".,;:!?\"'()").upper()
    return first if first in STOP_WORDS else None


async def receive_reply(
    session: AsyncSession, *, sender: str, text: str, gateway: str, message_id: str
) -> ReplyApplied:
    """Apply a reply from `sender` (a mobile number as the gateway gives it: MSISDN digits or
    E.164) saying `text`; `gateway` and `message_id` name the message in the audit log."""
    word = stop_word(text)
    if word is None:
        return ReplyApplied(stop=False, opted_out=0)
    try:
        phone = parse_phone(sender).e164
    except ValidationFailed:
        log.info("a stop reply from a number that is no Nordic mobile number; nothing changed")
        return ReplyApplied(stop=True, opted_out=0)
    changed = 0
    for customer in await repository.with_phone_locked(session, phone):
        if customer.reminders == "opted_out":
            continue
        before = customer.reminders
        customer.reminders = "opted_out"
        await session.flush()
        await audit.record(
            session,
            action=OPTED_OUT_BY_SMS,
            subject_type="customer",
            subject_id=customer.id,
            organisation_id=customer.organisation_id,
            details={
                "number": customer.number,
                "reminders": [before, customer.reminders],
                "phone": masked_phone(phone),
                "reply": word,
                "gateway": gateway,
                "message_id": message_id,
            },
        )
        changed += 1
    log.info("a stop reply (%s %s) opted out %d customers", gateway, message_id, changed)
    return ReplyApplied(stop=True, opted_out=changed)


async def opted_out_by_sms(session: AsyncSession, customer: Customer) -> bool:
    """Whether the customer is opted out of reminders because they replied a stop word by SMS
    (not in the portal): the last change of their reminders recorded was such a reply."""
    if customer.reminders != "opted_out":
        return False
    last = await audit_read.latest_action(
        session, subject_type="customer", subject_id=customer.id, actions=_REMINDER_CHANGES
    )
    return last == OPTED_OUT_BY_SMS
