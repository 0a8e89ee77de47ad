"""Creating a Checkout Session: the parameters a hosted card payment takes, checked as Stripe
checks them (docs/stripe.md#checkout-sessions).

`mode=payment` with inline `price_data` line items; the currencies the product needs (and
USD/GBP) with Stripe's per-currency minimum total; `expires_at` 30 minutes to 24 hours ahead
(24 hours when left out). Since API version endive (2026-09-30) the create call no longer takes
`payment_method_types` (`allowed_payment_method_types` took its place); an older
`Stripe-Version` header still may send it.
"""

from __future__ import annotations

from typing import Any

from payrequest.sandbox.stripe import params as p
from payrequest.sandbox.stripe.emulator import Account, StripeEmulator
from payrequest.sandbox.stripe.errors import invalid, missing, no_such, unknown
from payrequest.sandbox.stripe.model import LineItem, Session, new_id

# Currency -> the smallest total Stripe charges in it, in minor units.
MINIMUM_AMOUNT = {"nok": 300, "dkk": 250, "sek": 300, "eur": 50, "usd": 50, "gbp": 30}
LOCALES = frozenset(
    [
        "auto",
        "bg",
        "cs",
        "da",
        "de",
        "el",
        "en",
        "en-GB",
        "es",
        "es-419",
        "et",
        "fi",
        "fil",
        "fr",
        "fr-CA",
        "hi-IN",
        "hr",
        "hu",
        "id",
        "it",
        "ja",
        "ko",
        "lt",
        "lv",
        "ms",
        "mt",
        "nb",
        "nl",
        "pl",
        "pt",
        "pt-BR",
        "ro",
        "ru",
        "sk",
        "sl",
        "sv",
        "th",
        "tr",
        "vi",
        "zh",
        "zh-HK",
        "zh-TW",
    ]
)
MIN_LIFETIME = 30 * 60
MAX_LIFETIME = 24 * 3600
LIFETIME_SLACK = 10  # seconds of leeway for a client computing `expires_at` a moment earlier
MAX_LINE_ITEMS = 100
ENDIVE = "2026-09-30"
PAYMENT_METHODS = ("card",)
CREATE_PARAMS = frozenset(
    {
        "mode",
        "line_items",
        "success_url",
        "cancel_url",
        "client_reference_id",
        "customer_email",
        "metadata",
        "payment_intent_data",
        "locale",
        "expires_at",
        "currency",
        "allowed_payment_method_types",
        "excluded_payment_method_types",
        "expand",
        "submit_type",
        "billing_address_collection",
        "ui_mode",
        "customer_creation",
    }
)
INTENT_PARAMS = frozenset(
    {"metadata", "description", "capture_method", "receipt_email", "statement_descriptor"}
)


def create_session(
    emu: StripeEmulator, account: Account, params: dict[str, Any], hosted_base: str, version: str
) -> Session:
    """A new open session after checking `params`; `hosted_base` is where the hosted page
    lives (the session's `url` is under it)."""
    allowed = set(CREATE_PARAMS)
    if version < ENDIVE:
        allowed.add("payment_method_types")
    if "payment_method_types" in params and "payment_method_types" not in allowed:
        raise unknown("payment_method_types")
    p.only(params, allowed)
    mode = p.required_text(params, "mode")
    if mode != "payment":
        raise invalid("The emulator only offers `mode=payment`.", "mode", "parameter_invalid")
    p.choice(params, "ui_mode", ("hosted_page", "hosted"), "hosted_page")
    if p.text(params, "success_url") is None:
        raise missing("success_url")
    items = _line_items(params)
    currency = items[0].currency
    declared = p.text(params, "currency")
    if declared is not None and declared.lower() != currency:
        raise invalid("The currency must match the line items' currency.", "currency")
    total = sum(item.amount for item in items)
    if total < MINIMUM_AMOUNT[currency]:
        minimum = MINIMUM_AMOUNT[currency]
        raise invalid(
            "The Checkout Session's total amount due must add up to at least "
            f"{minimum // 100}.{minimum % 100:02d} {currency}",
            code="amount_too_small",
        )
    if total > p.MAX_AMOUNT:
        raise invalid(
            f"The Checkout Session's total amount due must be no more than 999,999.99 {currency}",
            code="amount_too_large",
        )
    locale = p.text(params, "locale")
    if locale is not None and locale not in LOCALES:
        raise invalid(f"Invalid locale: {locale}", "locale", "parameter_invalid")
    now = emu.timestamp()
    expires_at = _expires_at(params, now)
    intent = params.get("payment_intent_data") or {}
    if not isinstance(intent, dict):
        raise invalid("Invalid object: payment_intent_data", "payment_intent_data")
    p.only(intent, INTENT_PARAMS, "payment_intent_data")
    capture = p.choice(intent, "capture_method", ("automatic", "automatic_async"), "automatic")
    del capture  # the emulator always captures at once
    session_id = new_id("cs_test_", 58)
    session = Session(
        id=session_id,
        created=now,
        started=emu.clock.now(),
        lifetime=float(expires_at - now),
        expires_at=expires_at,
        currency=currency,
        line_items=items,
        url=f"{hosted_base}/pay/{session_id}",
        success_url=p.text(params, "success_url"),
        cancel_url=p.text(params, "cancel_url"),
        client_reference_id=_limited(params, "client_reference_id", 200),
        customer_email=_limited(params, "customer_email", 512),
        locale=locale,
        metadata=p.metadata(params),
        intent_metadata=p.metadata(intent),
        intent_description=p.text(intent, "description", "payment_intent_data[description]"),
        payment_method_types=_methods(params),
    )
    account.sessions[session.id] = session
    return session


def _line_items(params: dict[str, Any]) -> list[LineItem]:
    raw = params.get("line_items")
    if raw is None or raw == "":
        raise missing("line_items")
    if not isinstance(raw, list) or not raw:
        raise invalid("Invalid array: line_items", "line_items")
    if len(raw) > MAX_LINE_ITEMS:
        raise invalid("A Checkout Session takes at most 100 line items.", "line_items")
    items = [_line_item(entry, f"line_items[{index}]") for index, entry in enumerate(raw)]
    if len({item.currency for item in items}) > 1:
        raise invalid("All line items must be in the same currency.", "line_items")
    return items


def _line_item(entry: Any, name: str) -> LineItem:
    if not isinstance(entry, dict):
        raise invalid(f"Invalid object: {name}", name)
    p.only(entry, ("price_data", "quantity", "price"), name)
    price = p.text(entry, "price", f"{name}[price]")
    if price is not None:
        raise no_such("price", price, f"{name}[price]")
    data = entry.get("price_data")
    if not isinstance(data, dict):
        raise missing(f"{name}[price_data]")
    p.only(data, ("currency", "unit_amount", "product_data", "tax_behavior"), f"{name}[price_data]")
    currency = p.required_text(data, "currency", f"{name}[price_data][currency]").lower()
    if currency not in MINIMUM_AMOUNT:
        raise invalid(
            f"Invalid currency: {currency}. The emulator takes {', '.join(MINIMUM_AMOUNT)}.",
            f"{name}[price_data][currency]",
            "parameter_invalid",
        )
    amount_param = f"{name}[price_data][unit_amount]"
    if "unit_amount" not in data:
        raise missing(amount_param)
    unit_amount = p.integer(data["unit_amount"], amount_param, 0, p.MAX_AMOUNT)
    product = data.get("product_data")
    if not isinstance(product, dict):
        raise missing(f"{name}[price_data][product_data]")
    product_name = f"{name}[price_data][product_data]"
    p.only(product, ("name", "description", "metadata", "images"), product_name)
    if "quantity" not in entry:
        raise missing(f"{name}[quantity]")
    return LineItem(
        id=new_id("li_"),
        name=p.required_text(product, "name", f"{product_name}[name]"),
        description=p.text(product, "description", f"{product_name}[description]"),
        currency=currency,
        unit_amount=unit_amount,
        quantity=p.integer(entry["quantity"], f"{name}[quantity]", 1, 999_999),
    )


def _expires_at(params: dict[str, Any], now: int) -> int:
    if "expires_at" not in params:
        return now + MAX_LIFETIME
    expires_at = p.integer(params["expires_at"], "expires_at")
    if expires_at - now > MAX_LIFETIME + LIFETIME_SLACK:
        raise invalid(
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
            "expires_at",
        )
    if expires_at - now < MIN_LIFETIME - LIFETIME_SLACK:
        raise invalid(
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
            "expires_at",
        )
    return expires_at


def _limited(params: dict[str, Any], name: str, length: int) -> str | None:
    value = p.text(params, name)
    if value is not None and len(value) > length:
        raise invalid(f"Invalid {name}: at most {length} characters.", name)
    return value


def _methods(params: dict[str, Any]) -> list[str]:
    for name in ("allowed_payment_method_types", "payment_method_types"):
        given = p.string_list(params, name)
        if given and set(given) - set(PAYMENT_METHODS):
            raise invalid(
                "The emulator offers card payments only.", f"{name}[0]", "parameter_invalid"
            )
        if given:
            return given
    excluded = p.string_list(params, "excluded_payment_method_types")
    if "card" in excluded:
        raise invalid("No payment method is left to pay with.", "excluded_payment_method_types")
    return list(PAYMENT_METHODS)
