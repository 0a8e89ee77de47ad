"""The hosted checkout page with Stripe's test cards (httpx form posts), then refunds, the
cancel rule and expiry by the clock."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import stripe

from tests.sandbox.stripe.helpers import (
    CANCEL,
    Emulator,
    authenticate,
    pay,
    session_params,
)


def test_page_in_the_session_locale(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params(locale="nb"))
    assert session.url is not None
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "Sandbox Merchant" in page.text and "Invoice 1001" in page.text
    assert "499,00\xa0kr" in page.text and "Betal" in page.text
    assert f'href="{CANCEL}"' in page.text
    assert "<script" not in page.text and "style=" not in page.text
    assert "script-src" not in page.headers["content-security-policy"]
    assert 'href="/stripe/static/checkout.css"' in page.text
    assert httpx.get(session.url.split("/pay/")[0] + "/static/checkout.css").status_code == 200
    danish = client.v1.checkout.sessions.create(params=session_params(12345, "dkk", locale="da"))
    assert danish.url is not None
    assert "123,45\xa0kr." in httpx.get(danish.url).text
    auto = client.v1.checkout.sessions.create(params=session_params(locale="auto"))
    assert auto.url is not None
    assert "Kortnummer" in httpx.get(auto.url, headers={"Accept-Language": "nb-NO,nb"}).text


def test_paid_with_4242(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    answer = pay(session.url, "4242 4242 4242 4242")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"https://shop.example/paid?session={session.id}"
    paid = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent.latest_charge"]}
    )
    assert (paid.status, paid.payment_status, paid.url) == ("complete", "paid", None)
    intent = paid.payment_intent
    assert isinstance(intent, stripe.PaymentIntent)
    assert (intent.status, intent.amount_received, intent.capture_method) == (
        "succeeded",
        49900,
        "automatic",
    )
    assert intent.metadata.to_dict() == {"invoice_id": "1001"}
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.paid, charge.captured, charge.amount_refunded, charge.refunded) == (
        True,
        True,
        0,
        False,
    )
    assert charge.payment_method_details is not None
    assert charge.payment_method_details.card is not None
    assert charge.payment_method_details.card.last4 == "4242"
    assert paid.customer_details is not None
    assert paid.customer_details.email == "payer@example.com"
    assert "Payment complete" in httpx.get(session.url).text  # a paid session: a notice


@pytest.mark.parametrize(
    ("number", "code", "decline_code", "shown"),
    [
        ("4000000000000002", "card_declined", "generic_decline", "Your card was declined."),
        ("4000000000009995", "card_declined", "insufficient_funds", "insufficient funds"),
    ],
)
def test_declined_cards_keep_the_payer_on_the_page(
    client: stripe.StripeClient, number: str, code: str, decline_code: str, shown: str
) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    answer = pay(session.url, number)
    assert answer.status_code == 200 and shown in answer.text
    open_session = client.v1.checkout.sessions.retrieve(session.id)
    assert (open_session.status, open_session.payment_status) == ("open", "unpaid")
    assert isinstance(open_session.payment_intent, str)
    intent = client.v1.payment_intents.retrieve(open_session.payment_intent)
    assert intent.status == "requires_payment_method"
    error = intent.last_payment_error
    assert error is not None
    assert (error.type, error.code, error.decline_code) == ("card_error", code, decline_code)
    retry = pay(session.url, "4242424242424242")  # another card on the same page
    assert retry.status_code == 303
    done = client.v1.payment_intents.retrieve(open_session.payment_intent)
    assert (done.status, done.last_payment_error) == ("succeeded", None)


def test_three_d_secure_complete_and_fail(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    step = pay(session.url, "4000 0027 6000 3184")
    assert step.status_code == 303 and step.headers["location"].endswith("/authenticate")
    page = httpx.get(f"{session.url}/authenticate")
    assert "Complete" in page.text and "Fail" in page.text
    waiting = client.v1.checkout.sessions.retrieve(
        session.id, params={"expand": ["payment_intent"]}
    )
    assert isinstance(waiting.payment_intent, stripe.PaymentIntent)
    assert waiting.payment_intent.status == "requires_action"
    failed = authenticate(session.url, "fail")
    assert failed.status_code == 200 and "unable to authenticate" in failed.text
    intent = client.v1.payment_intents.retrieve(waiting.payment_intent.id)
    assert intent.status == "requires_payment_method"
    assert pay(session.url, "4000002760003184").status_code == 303
    completed = authenticate(session.url, "complete")
    assert completed.status_code == 303
    assert completed.headers["location"].endswith(session.id)
    assert client.v1.payment_intents.retrieve(intent.id).status == "succeeded"


@pytest.mark.parametrize(
    ("locale", "declined", "broke"),
    [
        ("nb", "Det er ikke nok penger på kortet.", "Kortnummeret er feil."),
        ("da", "Der er ikke penge nok på kortet.", "Kortnummeret er forkert."),
    ],
)
def test_the_payer_reads_why_in_the_pages_language(
    client: stripe.StripeClient, locale: str, declined: str, broke: str
) -> None:
    """The page speaks the session's language, its refusals too (the API keeps English)."""
    session = client.v1.checkout.sessions.create(params=session_params(locale=locale))
    assert session.url is not None
    answer = pay(session.url, "4000000000009995")
    assert declined in answer.text and "insufficient" not in answer.text
    assert broke in pay(session.url, "4242424242424241").text


def test_wrong_card_details_are_shown_without_a_payment(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    assert "card number is incorrect" in pay(session.url, "4242424242424241").text
    assert "expiration month" in pay(session.url, "4242424242424242", expiry="13/30").text
    assert client.v1.checkout.sessions.retrieve(session.id).payment_intent is None


def _paid_intent(client: stripe.StripeClient, amount: int = 10000) -> str:
    session = client.v1.checkout.sessions.create(params=session_params(amount))
    assert session.url is not None
    assert pay(session.url, "4242424242424242").status_code == 303
    intent = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert isinstance(intent, str)
    return intent


def test_partial_and_full_refunds(client: stripe.StripeClient) -> None:
    intent_id = _paid_intent(client)
    first = client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 3000})
    assert (first.status, first.amount, first.payment_intent) == ("succeeded", 3000, intent_id)
    with pytest.raises(stripe.InvalidRequestError) as over:
        client.v1.refunds.create(params={"payment_intent": intent_id, "amount": 7001})
    assert over.value.param == "amount"
    assert "greater than unrefunded amount on charge (NOK70.00)" in str(over.value)
    rest = client.v1.refunds.create(params={"payment_intent": intent_id, "reason": "duplicate"})
    assert rest.amount == 7000
    intent = client.v1.payment_intents.retrieve(intent_id, params={"expand": ["latest_charge"]})
    charge = intent.latest_charge
    assert isinstance(charge, stripe.Charge)
    assert (charge.amount_refunded, charge.refunded) == (10000, True)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"payment_intent": intent_id})
    assert again.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list(params={"payment_intent": intent_id})
    assert [r.id for r in listed.data] == [rest.id, first.id]
    assert client.v1.refunds.retrieve(first.id).amount == 3000


def test_cancel_follows_the_checkout_rule(client: stripe.StripeClient) -> None:
    intent_id = _paid_intent(client)
    with pytest.raises(stripe.InvalidRequestError) as error:
        client.v1.payment_intents.cancel(intent_id)
    assert error.value.code == "payment_intent_unexpected_state"
    session = client.v1.checkout.sessions.create(params=session_params())
    assert session.url is not None
    pay(session.url, "4000000000000002")
    pending = client.v1.checkout.sessions.retrieve(session.id).payment_intent
    assert isinstance(pending, str)
    with pytest.raises(stripe.InvalidRequestError, match="Expire the Checkout Session"):
        client.v1.payment_intents.cancel(pending)
    expired = client.v1.checkout.sessions.expire(session.id)
    assert (expired.status, expired.url) == ("expired", None)
    canceled = client.v1.payment_intents.retrieve(pending)
    assert canceled.status == "canceled" and canceled.cancellation_reason == "abandoned"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.expire(session.id)


async def test_expiry_by_the_clock(client: stripe.StripeClient, emulator: Emulator) -> None:
    session = client.v1.checkout.sessions.create(
        params=session_params(expires_at=int(emulator.emu.timestamp()) + 1800)
    )
    emulator.control("POST", "/clock/advance", json={"seconds": 1700})
    await asyncio.sleep(0.1)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    emulator.control("POST", "/clock/advance", json={"seconds": 120})
    for _ in range(100):
        if client.v1.checkout.sessions.retrieve(session.id).status == "expired":
            break
        await asyncio.sleep(0.02)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert session.url is not None
    async with httpx.AsyncClient() as http:
        assert "expired" in (await http.get(session.url)).text
    emulator.control("PATCH", "/faults", json={"clock_speed": 3600})
    fast = client.v1.checkout.sessions.create(params=session_params())  # 24 h -> 24 s
    assert client.v1.checkout.sessions.retrieve(fast.id).status == "open"
