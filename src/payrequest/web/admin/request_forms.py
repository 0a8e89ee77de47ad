"""The staff's request forms on the customer card: what the send and retry forms offer (flows,
expiry presets within what the sales unit allows, payable currencies), what the requests list
shows beside each request (QR code, countdown, Retry), and reading what was typed.

The rules themselves live in the domain (`payment_requests.service.Lifetime`,
`create_request`); this only offers what they allow and turns typed text into their input.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from markupsafe import Markup

from payrequest.commands.payment_requests import card_provider
from payrequest.customers.models import Customer
from payrequest.errors import N_, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.markets import currency_of
from payrequest.kit.money import parse_money
from payrequest.payment_requests import repository
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.service import Lifetime
from payrequest.payment_requests.waiting_link import CARD, WAITING, link_kind, shows_code
from payrequest.providers.base import UserFlow
from payrequest.runtime import Runtime
from payrequest.web import i18n
from payrequest.web.deps import AsyncSession
from payrequest.web.qr import inline_svg

STAFF_FLOWS = (UserFlow.push, UserFlow.qr)  # a link is sent as the QR code's link
# The flow choice "Card payment link" (a redirect through the card provider) is named CARD, like
# the link such a request gives the customer.
CUSTOM = "custom"  # the expiry choice "on a date"
END_OF_DAY = time(23, 59)


@dataclass(frozen=True, slots=True)
class SendOptions:
    """What the send form offers for one customer."""

    payable: tuple[str, ...]  # currencies the sales unit takes
    currency: str  # the amount's currency until invoices are ticked
    presets: tuple[tuple[int, str], ...]  # (minutes, label)
    default_label: str  # the lifetime a request gets when nobody chooses
    first_day: date | None  # the range of "on a date", None when not offered
    last_day: date | None
    card: bool = False  # the organisation takes card payments: "Card payment link" is offered
    card_label: str = ""  # how long a card payment link stays open


def duration_label(minutes: int) -> str:
    """`23 hours 55 minutes`, `7 days`: exact, in the reader's language. (Each ngettext call
    is written out, so that `make translations` finds its messages.)"""
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [
        i18n.ngettext("{n} day", "{n} days", days).format(n=days) if days else "",
        i18n.ngettext("{n} hour", "{n} hours", hours).format(n=hours) if hours else "",
        i18n.ngettext("{n} minute", "{n} minutes", mins).format(n=mins) if mins else "",
    ]
    return " ".join(part for part in parts if part)


def _common_presets(lifetime: Lifetime) -> list[int]:
    offered = [set(lifetime.presets(flow)) for flow in STAFF_FLOWS]
    return sorted(set.intersection(*offered))


def _date_range(lifetime: Lifetime, now: datetime) -> tuple[date | None, date | None]:
    """Days whose end (23:59 local time) is within every staff flow's bounds, if there are
    at least two of them (in Norway a request lives a day at most: no date to choose)."""
    bounds = [lifetime.bounds(flow) for flow in STAFF_FLOWS]
    if any(b is None for b in bounds):
        return None, None
    shortest = max(b[0] for b in bounds if b)
    longest = min(b[1] for b in bounds if b)
    local_now = now.astimezone(i18n.TIMEZONE)
    first = local_now.date()
    if _end_of(first) - now < timedelta(minutes=shortest):
        first += timedelta(days=1)
    last = (now + timedelta(minutes=longest)).astimezone(i18n.TIMEZONE).date()
    if _end_of(last) - now > timedelta(minutes=longest):
        last -= timedelta(days=1)
    return (first, last) if last > first else (None, None)


def _end_of(day: date) -> datetime:
    return datetime.combine(day, END_OF_DAY, tzinfo=i18n.TIMEZONE)


async def send_options(
    runtime: Runtime, customer: Customer, open_currencies: Sequence[str]
) -> SendOptions:
    lifetime = await runtime.lifetime_to_show()
    payable = tuple(sorted(lifetime.capabilities.currencies))
    chosen = [c for c in open_currencies if c in payable]
    first, last = _date_range(lifetime, utcnow())
    default = lifetime.default_for(UserFlow.push)
    return SendOptions(
        payable=payable,
        currency=chosen[0] if chosen else currency_of(customer.country),
        presets=tuple((m, duration_label(m)) for m in _common_presets(lifetime)),
        default_label=duration_label(int(default / timedelta(minutes=1))),
        first_day=first,
        last_day=last,
        **await _card_options(runtime),
    )


async def _card_options(runtime: Runtime) -> dict[str, Any]:
    """Whether "Card payment link" is offered, and how long such a link stays open (the card
    provider's standard lifetime: the expiry choices above are MobilePay's)."""
    name = await card_provider(runtime)
    if name is None:
        return {}
    lifetime = await runtime.lifetime_for(name)
    minutes = int(lifetime.default_for(UserFlow.redirect) / timedelta(minutes=1))
    return {"card": True, "card_label": duration_label(minutes)}


async def requests_view(
    session: AsyncSession,
    customer: Customer,
    requests: Sequence[PaymentRequest],
    card_name: str | None = None,
) -> dict[str, Any]:
    """What the requests list shows beside each request: which may be retried (the newest
    attempt of a chain), how long a waiting one has left, a QR request's code and a waiting
    card payment's link (`card_name`: the card provider's name)."""
    now = utcnow()
    return {
        "newest": await repository.newest_attempts(session, customer.id, requests),
        "left_ms": {
            r.id: max(0, int((r.expires_at - now) / timedelta(milliseconds=1)))
            for r in requests
            if r.status in WAITING
        },
        "qr_codes": {r.id: qr_code(r) for r in requests if shows_code(r)},
        "card_links": {r.id for r in requests if link_kind(r, card_name) == CARD},
    }


def qr_code(payment: PaymentRequest) -> Markup:
    assert payment.redirect_url is not None
    title = i18n.gettext("QR code: scan it with the Vipps MobilePay app to pay")
    return inline_svg(payment.redirect_url, title=title)


# --- Reading the forms -----------------------------------------------------------------------


def chosen_flow(choice: str, phone: str) -> UserFlow:
    """A redirect for a card payment link; QR when chosen, or when no number was typed; else
    a push to the number."""
    if choice == CARD:
        return UserFlow.redirect
    return UserFlow.qr if choice == UserFlow.qr.value or not phone.strip() else UserFlow.push


def amount_minor(text: str, currency: str) -> int | None:
    """What was typed in the amount field in minor units; None (everything open) if empty."""
    return parse_money(text, currency).amount if text.strip() else None


def lifetime_minutes(choice: str, day: str, now: datetime) -> int | None:
    """The expiry chosen: None (the default), a preset's minutes, or until the end of a
    chosen day (local time). The domain checks it is within what is allowed."""
    if not choice:
        return None
    if choice.isdigit():
        return int(choice)
    if choice == CUSTOM:
        try:
            chosen = date.fromisoformat(day.strip())
        except ValueError:
            raise ValidationFailed("Choose the day the request expires", field="lifetime") from None
        return max(0, int((_end_of(chosen) - now) / timedelta(minutes=1)))
    raise ValidationFailed("Choose when the request expires", field="lifetime")


LABELS = {
    "phone": N_("Mobile number"),
    "invoice_ids": N_("Invoices"),
    "amount": N_("Amount to request"),
    "lifetime_minutes": N_("Expires"),
}
