"""The hosted checkout page's words in English, Norwegian (bokmål) and Danish, and how a
session's `locale` picks them (docs/stripe.md#the-hosted-checkout-page)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency

BABEL_LOCALE = {"en": "en", "nb": "nb_NO", "da": "da_DK"}
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "pay_to": "Pay {merchant}",
        "total": "Total",
        "email": "Email",
        "card": "Card information",
        "number": "Card number",
        "expiry": "MM / YY",
        "cvc": "CVC",
        "name": "Name on card",
        "pay": "Pay {amount}",
        "back": "Back",
        "test_mode": "Test mode",
        "auth_title": "3D Secure test payment",
        "auth_text": "This is a test page for 3D Secure. Complete or fail the authentication "
        "of {amount} to {merchant}.",
        "complete": "Complete",
        "fail": "Fail",
        "paid": "Payment complete",
        "expired": "This checkout session has expired",
        "continue": "Continue",
        "unknown": "This checkout session does not exist.",
    },
    "nb": {
        "pay_to": "Betal {merchant}",
        "total": "Totalt",
        "email": "E-post",
        "card": "Kortinformasjon",
        "number": "Kortnummer",
        "expiry": "MM / ÅÅ",
        "cvc": "CVC",
        "name": "Navn på kortet",
        "pay": "Betal {amount}",
        "back": "Tilbake",
        "test_mode": "Testmodus",
        "auth_title": "3D Secure-testbetaling",
        "auth_text": "Dette er en testside for 3D Secure. Fullfør eller avvis autentiseringen "
        "av {amount} til {merchant}.",
        "complete": "Fullfør",
        "fail": "Avvis",
        "paid": "Betalingen er fullført",
        "expired": "Denne betalingsøkten har utløpt",
        "continue": "Fortsett",
        "unknown": "Denne betalingsøkten finnes ikke.",
    },
    "da": {
        "pay_to": "Betal {merchant}",
        "total": "I alt",
        "email": "E-mail",
        "card": "Kortoplysninger",
        "number": "Kortnummer",
        "expiry": "MM / ÅÅ",
        "cvc": "CVC",
        "name": "Navn på kortet",
        "pay": "Betal {amount}",
        "back": "Tilbage",
        "test_mode": "Testtilstand",
        "auth_title": "3D Secure-testbetaling",
        "auth_text": "Dette er en testside til 3D Secure. Gennemfør eller afvis godkendelsen "
        "af {amount} til {merchant}.",
        "complete": "Gennemfør",
        "fail": "Afvis",
        "paid": "Betalingen er gennemført",
        "expired": "Denne betalingssession er udløbet",
        "continue": "Fortsæt",
        "unknown": "Denne betalingssession findes ikke.",
    },
}
NORWEGIAN = ("nb", "no", "nn")


def language(locale: str | None, accept_language: str) -> str:
    """`nb`, `da` or `en` for a session's `locale`; `auto` (or none) follows the browser."""
    if locale and locale != "auto":
        return _known(locale)
    for part in accept_language.split(","):
        primary = part.split(";")[0].strip().lower().split("-")[0]
        if primary in (*NORWEGIAN, "da", "en"):
            return _known(primary)
    return "en"


def _known(tag: str) -> str:
    primary = tag.lower().split("-")[0]
    if primary in NORWEGIAN:
        return "nb"
    return "da" if primary == "da" else "en"


def amount_text(amount: int, currency: str, lang: str) -> str:
    """`499,00 kr` in Norwegian, `499,00 kr.` in Danish, `NOK 499.00` in English."""
    value = Decimal(amount) / 100
    return format_currency(value, currency.upper(), locale=BABEL_LOCALE[lang])
