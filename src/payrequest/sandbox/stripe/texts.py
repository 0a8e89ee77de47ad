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
# What the hosted page tells the payer when a card is refused, in the page's language, by
# Stripe's decline code or error code (the API objects keep Stripe's English `message`);
# anything else reads as `card_declined`.
PROBLEMS: dict[str, dict[str, str]] = {
    "en": {
        "card_declined": "Your card was declined.",
        "insufficient_funds": "Your card has insufficient funds.",
        "expired_card": "Your card has expired.",
        "incorrect_cvc": "Your card's security code is incorrect.",
        "invalid_cvc": "Your card's security code is incomplete.",
        "incorrect_number": "Your card number is incorrect.",
        "invalid_expiry_month": "Your card's expiration month is incomplete or invalid.",
        "invalid_expiry_year": "Your card's expiration year is in the past.",
        "processing_error": "An error occurred while processing your card. Try again.",
        "payment_intent_authentication_failure": "We are unable to authenticate your payment "
        "method. Please choose a different payment method and try again.",
        "test_mode_live_card": "Your card was declined: this is test mode, use a test card.",
    },
    "nb": {
        "card_declined": "Kortet ble avvist.",
        "insufficient_funds": "Det er ikke nok penger på kortet.",
        "expired_card": "Kortet er utløpt.",
        "incorrect_cvc": "Sikkerhetskoden (CVC) er feil.",
        "invalid_cvc": "Sikkerhetskoden (CVC) er ufullstendig.",
        "incorrect_number": "Kortnummeret er feil.",
        "invalid_expiry_month": "Utløpsdatoen er ufullstendig eller ugyldig.",
        "invalid_expiry_year": "Utløpsåret har passert.",
        "processing_error": "Det oppstod en feil da kortet ble behandlet. Prøv igjen.",
        "payment_intent_authentication_failure": "Vi kunne ikke bekrefte kortet. "
        "Velg et annet kort og prøv igjen.",
        "test_mode_live_card": "Kortet ble avvist: dette er testmodus, bruk et testkort.",
    },
    "da": {
        "card_declined": "Kortet blev afvist.",
        "insufficient_funds": "Der er ikke penge nok på kortet.",
        "expired_card": "Kortet er udløbet.",
        "incorrect_cvc": "Sikkerhedskoden (CVC) er forkert.",
        "invalid_cvc": "Sikkerhedskoden (CVC) er ufuldstændig.",
        "incorrect_number": "Kortnummeret er forkert.",
        "invalid_expiry_month": "Udløbsdatoen er ufuldstændig eller ugyldig.",
        "invalid_expiry_year": "Udløbsåret er passeret.",
        "processing_error": "Der opstod en fejl under behandlingen af kortet. Prøv igen.",
        "payment_intent_authentication_failure": "Vi kunne ikke godkende kortet. "
        "Vælg et andet kort, og prøv igen.",
        "test_mode_live_card": "Kortet blev afvist: dette er testtilstand, brug et testkort.",
    },
}
NORWEGIAN = ("nb", "no", "nn")


def problem_text(code: str, decline_code: str | None, lang: str) -> str:
    """Why the card was refused, in `lang`: by the decline code, else the error code."""
    words = PROBLEMS[lang]
    return words.get(decline_code or "") or words.get(code) or words["card_declined"]


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
