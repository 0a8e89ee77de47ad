"""SDK exceptions the emulator cannot provoke (a restricted key, a card error, a 429 with a
Retry-After) as neutral errors."""

from __future__ import annotations

from datetime import timedelta

import stripe

from payrequest.providers.base import Declined, OutcomeUnknown, ProviderError, TryAgainLater
from payrequest.providers.stripe.errors import neutral
from payrequest.providers.stripe.mapping import DECLINE_MESSAGES, DECLINED, KEY_NOT_ALLOWED


def _body(**error: str) -> dict[str, object]:
    return {"error": {"type": "card_error", "message": "Your card was declined.", **error}}


def test_a_restricted_key() -> None:
    exc = stripe.PermissionError("not allowed", http_status=403, headers={"request-id": "req_1"})
    error = neutral(exc, effect_unknown=True)
    assert (error.message, error.status, error.trace_id, error.retryable) == (
        KEY_NOT_ALLOWED,
        403,
        "req_1",
        False,
    )


def test_card_errors_are_declines_with_a_reason() -> None:
    funds = stripe.CardError(  # type: ignore[no-untyped-call]
        "declined",
        None,
        "card_declined",
        http_status=402,
        json_body=_body(code="card_declined", decline_code="insufficient_funds"),
    )
    declined = neutral(funds, effect_unknown=True)
    assert isinstance(declined, Declined) and declined.reason == "insufficient_funds"
    assert declined.message == DECLINE_MESSAGES["insufficient_funds"]
    cvc = stripe.CardError(  # type: ignore[no-untyped-call]
        "cvc", None, "incorrect_cvc", http_status=402, json_body=_body(code="incorrect_cvc")
    )
    wrong_cvc = neutral(cvc, effect_unknown=False)
    assert isinstance(wrong_cvc, Declined)
    assert (wrong_cvc.reason, wrong_cvc.message) == ("incorrect_cvc", DECLINED)


def test_a_rate_limit_names_its_wait() -> None:
    exc = stripe.RateLimitError("slow down", http_status=429, headers={"Retry-After": "7"})
    wait = neutral(exc, effect_unknown=False)
    assert isinstance(wait, TryAgainLater) and wait.retry_after == timedelta(seconds=7)


def test_server_errors_and_silence() -> None:
    for status, retryable in ((500, True), (503, True), (409, True), (424, False)):
        error = neutral(stripe.APIError("x", http_status=status), effect_unknown=False)
        assert type(error) is ProviderError and error.retryable is retryable, status
    silence = stripe.APIConnectionError("no answer")  # type: ignore[no-untyped-call]
    assert isinstance(neutral(silence, effect_unknown=True), OutcomeUnknown)
    unanswered = neutral(silence, effect_unknown=False)
    assert unanswered.retryable and not isinstance(unanswered, OutcomeUnknown)
