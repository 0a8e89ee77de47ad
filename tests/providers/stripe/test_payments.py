"""The Stripe adapter against the Stripe emulator over HTTP: a payment from create to paid on
the hosted page, 3-D Secure, a decline, expiry, cancel, capture and refunds."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe

from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.providers.base import (
    AlreadyAuthorized,
    PaymentNotFound,
    PaymentProvider,
    ProviderError,
    ProviderState,
    UserFlow,
)
from payrequest.providers.stripe import StripeProvider
from payrequest.providers.stripe.mapping import (
    NOT_PAID,
    OVER_CAPTURE,
    OVER_REFUND,
    REDIRECT_ONLY,
)
from tests.providers.stripe.helpers import line, new_payment, state_becomes
from tests.sandbox.stripe.helpers import Emulator, authenticate, pay

VISA = "4242424242424242"


async def _paid(provider: StripeProvider, amount: int = 49900) -> tuple[str, str]:
    """A payment paid with the 4242 card: (our reference, the session's id)."""
    request = new_payment(amount)
    created = await provider.create_payment(request)
    assert created.redirect_url is not None and created.provider_reference is not None
    assert pay(created.redirect_url, VISA).status_code == 303
    return request.reference, created.provider_reference


async def test_create_pay_and_read(provider: StripeProvider, client: stripe.StripeClient) -> None:
    request = new_payment(
        12345,
        order_lines=[
            line("Consulting", "3", 2000, 6000),
            line("Paper", "1.5", 4115, 6172, label="1,5"),
            line("Fee", "1", 173, 173),
        ],
        locale="nb",
        email="payer@example.com",
    )
    created = await provider.create_payment(request)
    session_id = created.provider_reference
    assert created.reference == request.reference and session_id is not None
    assert session_id.startswith("cs_test_") and created.key_at_provider == session_id
    session = client.v1.checkout.sessions.retrieve(session_id)
    assert session.client_reference_id == request.reference
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"customer": "7", "reference": request.reference}
    assert (session.locale, session.customer_email) == ("nb", "payer@example.com")
    assert session.success_url is not None and session.cancel_url is not None
    assert session.success_url.endswith("?reference=r1&session_id={CHECKOUT_SESSION_ID}")
    assert session.cancel_url.endswith("?reference=r1&cancelled=1")
    items = client.v1.checkout.sessions.line_items.list(session_id).data
    assert [(i.description, i.quantity, i.amount_total) for i in items] == [
        ("Consulting", 3, 6000),
        ("1,5 × Paper", 1, 6172),
        ("Fee", 1, 173),
    ]
    neutral: PaymentProvider = provider  # what the payment flow sees
    assert isinstance(neutral, PaymentProvider) and neutral.name == "stripe"
    waiting = await neutral.get_payment(session_id)
    assert (waiting.reference, waiting.state, waiting.captured) == (
        request.reference,
        ProviderState.created,
        0,
    )
    assert waiting.amount == Money(12345, "NOK")
    assert created.redirect_url is not None
    answer = pay(created.redirect_url, VISA)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith(f"&session_id={session_id}")
    paid = await provider.get_payment(session_id)
    assert paid.state is ProviderState.authorized
    assert (paid.authorized, paid.captured, paid.refunded) == (12345, 12345, 0)
    assert paid.psp_reference is not None and paid.psp_reference.startswith("pi_")
    captured = await provider.capture(session_id, paid.amount, idempotency_key="k-capture")
    assert captured == paid  # nothing moved: Checkout captured already
    with pytest.raises(ProviderError) as above:
        await provider.capture(session_id, Money(12346, "NOK"), idempotency_key="k-capture-2")
    assert above.value.message == OVER_CAPTURE and not above.value.retryable


async def test_lines_that_do_not_add_up_become_one(
    provider: StripeProvider, client: stripe.StripeClient
) -> None:
    request = new_payment(10000, order_lines=[line("A", "1", 5000, 5000)])
    created = await provider.create_payment(request)
    assert created.provider_reference is not None
    items = client.v1.checkout.sessions.line_items.list(created.provider_reference).data
    assert [(i.description, i.quantity, i.amount_total) for i in items] == [
        ("Invoice 10023", 1, 10000)
    ]


async def test_three_d_secure(provider: StripeProvider) -> None:
    created = await provider.create_payment(new_payment())
    assert created.redirect_url and created.provider_reference
    assert pay(created.redirect_url, "4000002760003184").status_code == 303
    waiting = await provider.get_payment(created.provider_reference)
    assert waiting.state is ProviderState.created
    assert authenticate(created.redirect_url, "complete").status_code == 303
    paid = await provider.get_payment(created.provider_reference)
    assert (paid.state, paid.captured) == (ProviderState.authorized, 49900)


async def test_a_declined_card_leaves_the_payment_open(provider: StripeProvider) -> None:
    created = await provider.create_payment(new_payment())
    assert created.redirect_url and created.provider_reference
    assert pay(created.redirect_url, "4000000000009995").status_code == 200  # shown again
    snapshot = await provider.get_payment(created.provider_reference)
    assert (snapshot.state, snapshot.captured) == (ProviderState.created, 0)
    with pytest.raises(ProviderError) as refused:
        await provider.capture(created.provider_reference, snapshot.amount, idempotency_key="k")
    assert refused.value.message == NOT_PAID and not refused.value.retryable


async def test_expiry_by_the_clock(provider: StripeProvider, emulator: Emulator) -> None:
    created = await provider.create_payment(
        new_payment(expires_at=utcnow() + timedelta(minutes=45))
    )
    assert created.provider_reference is not None
    emulator.control("POST", "/clock/advance", json={"seconds": 46 * 60})
    expired = await state_becomes(provider, created.provider_reference, ProviderState.expired)
    assert (expired.state, expired.captured) == (ProviderState.expired, 0)


async def test_cancel_an_open_payment(provider: StripeProvider) -> None:
    created = await provider.create_payment(new_payment())
    assert created.provider_reference is not None
    cancelled = await provider.cancel(created.provider_reference, idempotency_key="k-cancel")
    assert cancelled.state is ProviderState.terminated
    again = await provider.cancel(created.provider_reference, idempotency_key="k-cancel")
    assert again.state is ProviderState.terminated  # Stripe replays the first answer
    other_key = await provider.cancel(created.provider_reference, idempotency_key="k-later")
    assert other_key.state is ProviderState.expired  # not open any more: as it is


async def test_cancel_after_the_payer_paid(provider: StripeProvider) -> None:
    _, session_id = await _paid(provider)
    with pytest.raises(AlreadyAuthorized):
        await provider.cancel(session_id, idempotency_key="k-cancel")


async def test_refund_in_parts_and_not_more(provider: StripeProvider) -> None:
    reference, session_id = await _paid(provider, 30000)
    part = await provider.refund(session_id, Money(10000, "NOK"), idempotency_key="k-r1")
    assert (part.reference, part.state, part.refunded) == (
        reference,
        ProviderState.authorized,
        10000,
    )
    replayed = await provider.refund(session_id, Money(10000, "NOK"), idempotency_key="k-r1")
    assert replayed.refunded == 10000  # the same key: the same refund, not a second one
    with pytest.raises(ProviderError) as refused:
        await provider.refund(session_id, Money(25000, "NOK"), idempotency_key="k-r2")
    assert refused.value.message == OVER_REFUND and not refused.value.retryable
    assert refused.value.trace_id is not None and refused.value.trace_id.startswith("req_")
    rest = await provider.refund(session_id, Money(20000, "NOK"), idempotency_key="k-r3")
    assert rest.refunded == 30000
    with pytest.raises(ProviderError) as nothing_left:
        await provider.refund(session_id, Money(1, "NOK"), idempotency_key="k-r4")
    assert nothing_left.value.message == OVER_REFUND


async def test_refund_of_an_unpaid_payment_is_refused(provider: StripeProvider) -> None:
    created = await provider.create_payment(new_payment())
    assert created.provider_reference is not None
    with pytest.raises(ProviderError) as refused:
        await provider.refund(created.provider_reference, Money(100, "NOK"), idempotency_key="k")
    assert refused.value.message == NOT_PAID and not refused.value.retryable


async def test_the_same_key_creates_one_session(provider: StripeProvider) -> None:
    request = new_payment()
    first = await provider.create_payment(request)
    second = await provider.create_payment(request)
    assert first == second


async def test_unknown_session_and_other_flows(provider: StripeProvider) -> None:
    with pytest.raises(PaymentNotFound) as missing:
        await provider.get_payment("cs_test_nosuchsession")
    assert missing.value.status == 404 and missing.value.trace_id
    with pytest.raises(ProviderError) as refused:
        await provider.create_payment(new_payment(user_flow=UserFlow.push))
    assert refused.value.message == REDIRECT_ONLY and not refused.value.retryable
    with pytest.raises(ProviderError) as too_small:
        await provider.create_payment(new_payment(100))
    assert too_small.value.code == "amount_too_small" and not too_small.value.retryable
