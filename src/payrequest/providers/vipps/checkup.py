"""What `payrequest vipps check` and the Settings page's check report, in plain words.

Three things are looked at: whether the credentials work, which webhook registrations exist
for our address (ours, and any whose secret we do not hold), and the sales unit's situation:
whether it can take payments at all (5060), may create long-living requests (5050) and push
requests (5080). Vipps MobilePay has no call that tells the last three, so they are learned by
trying, where that costs nothing (docs/vipps.md#the-sales-units-situation): outside production
with throw-away payments of the smallest amount, cancelled at once; in production not at all.

Every finding is an English message id with its parameters (providers.checks), so the CLI
prints it in English and the Settings page in the reader's language.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from payrequest.errors import N_, Msg
from payrequest.kit.clock import utcnow
from payrequest.kit.ids import random_token
from payrequest.kit.markets import currency_of
from payrequest.kit.money import Money
from payrequest.providers.base import (
    AccountRefusal,
    CreatePayment,
    OrderLine,
    PaymentProvider,
    ProviderError,
    UserFlow,
    WebhookEndpoint,
)
from payrequest.providers.checks import Finding, Listed, Report, refused, said

AMOUNT = 100  # 1.00 of the market's currency: the smallest payment Vipps MobilePay takes
LONG_LIVING = timedelta(minutes=30)  # the long-living try's expiry: well inside every limit
# Numbers without a Vipps MobilePay user: a push to one is refused for the person (7010), which
# means the sales unit got past the check that it may send push requests at all.
NO_USER = {"NO": "4799999999", "DK": "4599999999", "FI": "358999999999"}
NO_USER_CODE = "7010"
DESCRIPTION = "payrequest connection check"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Answer:
    """Whether the sales unit may do one thing: True, False, or None (not learned: `why`)."""

    allowed: bool | None
    why: str = ""


NOT_TRIED = Answer(None)


@dataclass(frozen=True, slots=True)
class SalesUnit:
    payments: Answer = NOT_TRIED  # can it take payments at all (its bank account verified)
    long_living: Answer = NOT_TRIED
    push: Answer = NOT_TRIED


async def run(
    provider: PaymentProvider,
    *,
    look_up: Callable[[], Awaitable[Listed]],
    market: str,
    try_payments: bool,
    long_living_setting: bool,
) -> Report:
    """The whole check. `look_up` lists the registrations (the first call, so it also tells
    whether the credentials work); `try_payments` allows the throw-away payments."""
    try:
        listed = await look_up()
    except ProviderError as exc:
        return Report([refused(exc)], None)
    findings = [Finding("credentials", True, N_("The credentials work."))]
    findings += registrations(listed)
    if try_payments:
        unit = await probe(provider, market=market)
        findings += sales_unit(unit, long_living_setting=long_living_setting)
    else:
        findings.append(NOT_TRIED_IN_PRODUCTION)
    findings.append(CAPTURES)
    return Report(findings, listed)


def registrations(listed: Listed) -> list[Finding]:
    found: list[Finding] = []
    if listed.ours:
        found.append(
            Finding(
                "webhook.ours",
                True,
                N_("The webhook for %(url)s is registered, and payrequest holds its secret."),
                {"url": listed.url},
            )
        )
    else:
        found.append(
            Finding(
                "webhook.missing",
                False,
                N_(
                    "No webhook whose secret payrequest holds is registered for %(url)s. "
                    "Register it: `payrequest vipps register-webhook`, or Register webhook "
                    "in Settings."
                ),
                {"url": listed.url},
            )
        )
    if listed.foreign:
        found.append(
            Finding(
                "webhook.foreign",
                False,
                N_(
                    "Vipps MobilePay also has registrations for %(url)s whose secret payrequest "
                    "does not hold: %(ids)s. Each sends every event once more, signed so that "
                    "payrequest must refuse it. Remove them: `payrequest vipps check "
                    "--remove-foreign`, or Check the connection in Settings."
                ),
                {"url": listed.url, "ids": _ids(listed.foreign)},
            )
        )
    if listed.stale:
        found.append(
            Finding(
                "webhook.stale",
                None,
                N_(
                    "Registrations of payrequest for another address remain: %(ids)s (the "
                    "public address changed). `payrequest vipps register-webhook` removes them."
                ),
                {"ids": _ids(listed.stale)},
            )
        )
    return found


def _ids(hooks: Sequence[WebhookEndpoint]) -> str:
    return ", ".join(hook.endpoint_id for hook in hooks)


NOT_TRIED_IN_PRODUCTION = Finding(
    "sales_unit.not_tried",
    None,
    N_(
        "In production the sales unit is not tried (whether it can take payments, and may send "
        "long-living and push requests): that would create real payments. If Vipps MobilePay "
        "refuses one of these, the refused request says so and what to do."
    ),
)
CAPTURES = Finding(
    "captures",
    True,
    N_(
        "Captures: payrequest always captures the whole amount, so a sales unit that allows "
        "only full captures works as it is."
    ),
)


async def probe(provider: PaymentProvider, *, market: str) -> SalesUnit:
    """Learn the sales unit's situation with throw-away payments, each cancelled at once."""
    payments = await _try(provider, market, AccountRefusal.no_payments, UserFlow.qr)
    if payments.allowed is not True:
        return SalesUnit(payments)  # every other try would be refused the same way
    long_living = await _try(
        provider, market, AccountRefusal.long_living, UserFlow.qr, expires_in=LONG_LIVING
    )
    push = await _try(provider, market, AccountRefusal.push, UserFlow.push, phone=NO_USER[market])
    return SalesUnit(payments, long_living, push)


async def _try(
    provider: PaymentProvider,
    market: str,
    refusal: AccountRefusal,
    flow: UserFlow,
    *,
    expires_in: timedelta | None = None,
    phone: str | None = None,
) -> Answer:
    """Create one payment: made (then cancelled), or refused with `refusal`, or neither."""
    reference = f"check-{random_token(9).replace('_', 'x')}"[:30]
    amount = Money(AMOUNT, currency_of(market))
    try:
        await provider.create_payment(
            CreatePayment(
                reference=reference,
                amount=amount,
                description=DESCRIPTION,
                user_flow=flow,
                idempotency_key=f"create-{reference}",
                phone_msisdn=phone,
                expires_at=utcnow() + expires_in if expires_in else None,
                order_lines=[_line(amount)] if expires_in else (),
            )
        )
    except ProviderError as exc:
        if exc.refusal is refusal:
            return Answer(False)
        if phone is not None and exc.code == NO_USER_CODE:
            return Answer(True)  # refused for the person, so push itself was accepted
        return Answer(None, " · ".join(part for part in (exc.message, said(exc)) if part))
    await _cancel(provider, reference)
    return Answer(True)


def _line(amount: Money) -> OrderLine:
    """A long-living payment needs a receipt: one line of the whole amount, without VAT."""
    return OrderLine(
        line_id="check",
        name=DESCRIPTION,
        quantity="1",
        unit_price_including_tax=amount.amount,
        total=amount.amount,
        total_excluding_tax=amount.amount,
        tax_amount=0,
        tax_rate_bp=0,
    )


async def _cancel(provider: PaymentProvider, reference: str) -> None:
    """Cancel a try; one left behind expires by itself, unpaid (nobody was asked to pay)."""
    try:
        await provider.cancel(reference, idempotency_key=f"cancel-{reference}")
    except ProviderError as exc:
        log.warning("could not cancel the check payment %s: %s", reference, exc)


def sales_unit(unit: SalesUnit, *, long_living_setting: bool) -> list[Finding]:
    found = [_payments(unit.payments)]
    if unit.payments.allowed is True:
        found.append(_long_living(unit.long_living, setting=long_living_setting))
        found.append(_push(unit.push))
    return found


def _not_known(key: str, answer: Answer, what: str) -> Finding:
    text = N_("%(what)s could not be learned.")
    return Finding(key, None, text, {"what": Msg(what)}, said=answer.why)


def _payments(answer: Answer) -> Finding:
    if answer.allowed is None:
        return _not_known(
            "sales_unit.payments", answer, N_("Whether the sales unit can take payments")
        )
    if answer.allowed:
        return Finding(
            "sales_unit.payments",
            True,
            N_("The sales unit can take payments: a test payment was made and cancelled."),
        )
    return Finding(
        "sales_unit.payments",
        False,
        N_(
            "Vipps MobilePay cannot take payments for this sales unit yet: its bank account is "
            "not verified. Nothing can be paid until the business verifies it in the Vipps "
            "MobilePay business portal."
        ),
    )


def _long_living(answer: Answer, *, setting: bool) -> Finding:
    key = "sales_unit.long_living"
    if answer.allowed is None:
        return _not_known(key, answer, N_("Whether long-living requests are allowed"))
    texts = {
        (True, True): N_(
            "Long-living requests: the sales unit is approved for them, and "
            "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED is true."
        ),
        (True, False): N_(
            "The sales unit is approved for long-living requests, but "
            "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED is false, so requests stay open only 10 "
            "minutes. Set it to true to let them stay open longer."
        ),
        (False, True): N_(
            "The sales unit is not approved for long-living requests, but "
            "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED is true: every request meant to stay open "
            "longer than 10 minutes is refused. Set it to false, or ask Vipps MobilePay to "
            "approve the sales unit."
        ),
        (False, False): N_(
            "Long-living requests: the sales unit is not approved for them, and "
            "PAYREQUEST_VIPPS__LONG_LIVING_APPROVED is false, so requests stay open 10 "
            "minutes. For longer, ask Vipps MobilePay to approve the sales unit."
        ),
    }
    # Approved but not used is worth knowing; used but not approved fails every such request.
    ok = True if answer.allowed == setting else (None if answer.allowed else False)
    return Finding(key, ok, texts[answer.allowed, setting])


def _push(answer: Answer) -> Finding:
    key = "sales_unit.push"
    if answer.allowed is None:
        return _not_known(key, answer, N_("Whether push requests are allowed"))
    if answer.allowed:
        return Finding(
            key, True, N_("Push requests are allowed: requests can go to a phone number.")
        )
    return Finding(
        key,
        False,
        N_(
            "Push requests are not allowed for this sales unit: requests to a phone number are "
            "refused. Send QR codes or links instead, or ask Vipps MobilePay to allow push "
            "requests."
        ),
    )
