"""Conditions a flow puts on an event before it runs: pure data in, yes or no out.

Supported keys (all optional; an absent or empty key matches everything):

- `amount_min`, `amount_max`: minor units (øre, cents), inclusive, 0..MAX_AMOUNT
- `currency`: NOK, DKK, EUR, SEK
- `origin`: who started the payment request: staff, portal, bulk, api
- `country`: the customer's country (NO, DK, FI, SE)
- `language`: the customer's language (nb, da, en)
- `reminders_max`: a step of a time-triggered flow goes out only while the invoice has had at
  most this many reminders before it (steps of any flow, sent, not skipped); 0..100
- `tag`: one customer tag (customers.tags, stored cleaned: `VIP` is `vip`); the event's
  customer must have it

An event without the fact a condition asks about (an amount condition on `invoice.voided`
without amount, a tag condition on an event without a customer) does not match.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from payrequest import i18n
from payrequest.customers.tags import clean_tag
from payrequest.errors import ValidationFailed
from payrequest.kit.markets import COUNTRIES
from payrequest.kit.money import SUPPORTED_CURRENCIES
from payrequest.payment_requests.state import ORIGINS

LANGUAGES = tuple(i18n.LANGUAGES)
# The largest bound (minor units): an integer that JSON readers keep exact, and far above any
# payment; `1e309` typed as a bound is refused, not stored as a 300-digit number.
MAX_AMOUNT = 2**53 - 1
KEYS = (
    "amount_min",
    "amount_max",
    "currency",
    "origin",
    "country",
    "language",
    "reminders_max",
    "tag",
)
MOST_REMINDERS = 100


@dataclass(frozen=True, slots=True)
class Facts:
    """What an event tells us, for conditions."""

    amount: int | None = None
    currency: str | None = None
    origin: str | None = None
    country: str | None = None
    language: str | None = None
    reminders_sent: int | None = None  # before this step (a time trigger's event only)
    tags: frozenset[str] = frozenset()  # the customer's (none: no customer)


def clean(raw: dict[str, Any]) -> dict[str, Any]:
    """Normalise and check conditions; raises ValidationFailed naming the field."""
    out: dict[str, Any] = {}
    for key in ("amount_min", "amount_max"):
        value = raw.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValidationFailed("An amount must be zero or more", field=key)
        if value > MAX_AMOUNT:
            raise ValidationFailed("The amount is too large", field=key)
        out[key] = value
    reminders = raw.get("reminders_max")
    if reminders not in (None, ""):
        if isinstance(reminders, str) and reminders.strip().isdigit():
            reminders = int(reminders.strip())
        if not isinstance(reminders, int) or isinstance(reminders, bool):
            reminders = -1
        if not 0 <= reminders <= MOST_REMINDERS:
            raise ValidationFailed(
                "Give a whole number from 0 to %(most)s", field="reminders_max", most=MOST_REMINDERS
            )
        out["reminders_max"] = reminders
    tag = raw.get("tag")
    if tag is not None and str(tag).strip():
        out["tag"] = clean_tag(str(tag), field="tag")
    if "amount_min" in out and "amount_max" in out and out["amount_min"] > out["amount_max"]:
        raise ValidationFailed("The minimum is above the maximum", field="amount_max")
    choices: dict[str, tuple[str, ...] | frozenset[str]] = {
        "currency": SUPPORTED_CURRENCIES,
        "origin": ORIGINS,
        "country": COUNTRIES,
        "language": LANGUAGES,
    }
    for key, allowed in choices.items():
        value = raw.get(key)
        if value in (None, ""):
            continue
        if value not in allowed:
            raise ValidationFailed("Unknown value “%(value)s”", field=key, value=str(value))
        out[key] = value
    return out


def matches(conditions: dict[str, Any], facts: Facts) -> bool:
    low, high = conditions.get("amount_min"), conditions.get("amount_max")
    if low is not None or high is not None:
        if facts.amount is None:
            return False
        if low is not None and facts.amount < low:
            return False
        if high is not None and facts.amount > high:
            return False
    for key in ("currency", "origin", "country", "language"):
        wanted = conditions.get(key)
        if wanted and getattr(facts, key) != wanted:
            return False
    tag = conditions.get("tag")
    if tag and tag not in facts.tags:
        return False
    most = conditions.get("reminders_max")
    return most is None or (facts.reminders_sent is not None and facts.reminders_sent <= most)
