"""The provider contract: what every PaymentProvider adapter must do, as one suite of tests.

A provider's test module subclasses `ProviderContract` and supplies a `driver` fixture: a
`ContractDriver` that holds the adapter under test and plays what the adapter cannot do
itself (the payer, the clock, the network's faults, catching the webhooks it sends). The
tests use the neutral interface (payrequest.providers.base) only; where providers genuinely
differ, the driver says so in a field, and the test asserts the declared behaviour.
After creating, every call names the payment by its key at the provider
(`CreatedPayment.key_at_provider`: our reference for Vipps MobilePay, a `cs_...` for Stripe).
See docs/providers.md#the-provider-contract.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

import pytest

from payrequest.inbound.service import dedupe_key
from payrequest.kit.money import Money
from payrequest.providers.base import (
    AlreadyAuthorized,
    CreatedPayment,
    CreatePayment,
    EventName,
    OutcomeUnknown,
    PaymentNotFound,
    PaymentProvider,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
    ProviderState,
    TryAgainLater,
    UserFlow,
    WebhookRejected,
    WebhookSecretUnknown,
    WebhookUnreadable,
)

AMOUNT = 10_000
PHONE = "4791234567"
RETURN_URL = "https://payrequest.example/return"


class Fault(StrEnum):
    """What the driver makes the provider do to every call until it is cleared."""

    server_error = "server_error"  # a 5xx before anything happened
    rate_limited = "rate_limited"  # a 429 with a wait, before anything happened
    outcome_unknown = "outcome_unknown"  # the call takes effect, its answer is lost


@dataclass(frozen=True, slots=True)
class Webhook:
    body: bytes
    headers: dict[str, str]


class ContractDriver(Protocol):
    @property
    def provider(self) -> PaymentProvider:
        """The adapter under test."""
        ...

    @property
    def known_gaps(self) -> Mapping[str, str]:
        """Behaviours this adapter is known not to have yet: test name -> why. Each runs as a
        strict xfail, so the suite fails once the gap is closed and the entry is not removed."""
        ...

    secret: str  # the signing secret register_webhook gave for the driver's receiver
    currency: str  # the currency the account takes
    # Whether the provider has an event (log entry and webhook) for a payment's creation:
    # Vipps MobilePay's CREATED; Stripe Checkout has none for a new session.
    logs_creation: bool
    # Whether the payer's approval takes the money at once (Stripe Checkout: authorized with
    # all of it captured, one event for both), or waits for our capture (Vipps MobilePay).
    captures_at_approval: bool
    # Whether a refusal ends the payment (Vipps MobilePay: aborted), or leaves it open for the
    # payer's next try (Stripe Checkout: a declined card, another card may follow).
    refusal_ends_payment: bool
    # Whether reading the payment later says we cancelled it (terminated), or expired like
    # any other that ran out (a Checkout Session's status does not record who expired it;
    # its event log does).
    remembers_cancel: bool
    # Whether the webhook signature covers a hash of the body of its own, so that an altered
    # body is told apart from one signed with a secret we do not hold (Stripe's does not).
    signs_body_hash: bool

    async def approve(self, key: str) -> None:
        """The payer approves the payment (`key`: the payment's key at the provider)."""
        ...

    async def decline(self, key: str) -> None:
        """The payer says no."""
        ...

    async def expire(self, key: str) -> None:
        """The payment's time runs out with nobody approving."""
        ...

    async def payments_made(self, reference: str) -> int:
        """How many payments the provider holds under our `reference`, looked up the
        provider's own way (not through the adapter): what a retry could have doubled."""
        ...

    async def set_fault(self, fault: Fault | None) -> None:
        """Fail the next call to the provider with `fault` (None: no faults from now on)."""
        ...

    async def webhook_faults(self, *, duplicate: bool = False, reorder: bool = False) -> None:
        """From now on, deliver every webhook twice / let later ones overtake earlier ones."""
        ...

    async def webhooks(self, reference: str, count: int) -> list[Webhook]:
        """Every webhook about `reference` received so far, once there are `count` of them,
        in the order they arrived."""
        ...

    def sign(self, body: bytes, secret: str) -> dict[str, str]:
        """The headers the provider would send with `body` signed by `secret`."""
        ...


def new_reference() -> str:
    return f"contract-{uuid.uuid4().hex[:16]}"


def money(driver: ContractDriver, value: int) -> Money:
    return Money(value, driver.currency)


def create_request(
    driver: ContractDriver, reference: str, *, key: str | None = None
) -> CreatePayment:
    """A push request where the account takes them, else one the payer opens from a link."""
    push = driver.provider.capabilities.push
    return CreatePayment(
        reference=reference,
        amount=money(driver, AMOUNT),
        description="Invoice 1001",
        user_flow=UserFlow.push if push else UserFlow.redirect,
        idempotency_key=key or f"{reference}-create",
        phone_msisdn=PHONE,
        return_url=None if push else RETURN_URL,
    )


@dataclass(frozen=True, slots=True)
class Payment:
    reference: str  # ours
    key: str  # the provider's (CreatedPayment.key_at_provider), for every later call


async def created(driver: ContractDriver) -> Payment:
    reference = new_reference()
    answer = await driver.provider.create_payment(create_request(driver, reference))
    return Payment(reference, answer.key_at_provider)


async def authorized(driver: ContractDriver) -> Payment:
    payment = await created(driver)
    await driver.approve(payment.key)
    return payment


async def captured(driver: ContractDriver) -> Payment:
    payment = await authorized(driver)
    await driver.provider.capture(
        payment.key, money(driver, AMOUNT), idempotency_key=f"{payment.reference}-capture"
    )
    return payment


async def names(driver: ContractDriver, key: str) -> list[EventName]:
    return [event.name for event in await driver.provider.get_events(key)]


def opening(driver: ContractDriver) -> list[EventName]:
    """The events of a payment nobody has touched yet."""
    return [EventName.created] if driver.logs_creation else []


def refusal(exc: pytest.ExceptionInfo[ProviderError]) -> ProviderError:
    """A definite refusal: the neutral ProviderError, not one that asks for a retry."""
    assert not exc.value.retryable, exc.value
    assert not isinstance(exc.value, OutcomeUnknown | TryAgainLater), exc.value
    return exc.value


def amounts(snapshot: PaymentSnapshot) -> tuple[int, int, int, int]:
    return snapshot.authorized, snapshot.captured, snapshot.cancelled, snapshot.refunded


class ProviderContract:
    """The behaviours; a subclass named Test... runs them with its module's `driver`."""

    @pytest.fixture(autouse=True)
    def declared_gap(self, request: pytest.FixtureRequest, driver: ContractDriver) -> None:
        """A gap the driver declares is expected to fail, and flagged when it no longer does."""
        why = driver.known_gaps.get(request.node.originalname)
        if why:
            request.applymarker(pytest.mark.xfail(strict=True, reason=why))

    # --- creating ---------------------------------------------------------------------

    async def test_create_makes_a_payment_waiting_for_the_payer(
        self, driver: ContractDriver
    ) -> None:
        reference = new_reference()
        answer = await driver.provider.create_payment(create_request(driver, reference))
        assert answer.reference == reference
        snapshot = await driver.provider.get_payment(answer.key_at_provider)
        assert snapshot.reference == reference
        assert snapshot.state is ProviderState.created
        assert snapshot.amount == money(driver, AMOUNT)
        assert amounts(snapshot) == (0, 0, 0, 0)
        assert await names(driver, answer.key_at_provider) == opening(driver)
        assert await driver.payments_made(reference) == 1

    async def test_create_again_with_the_same_key_is_the_same_payment(
        self, driver: ContractDriver
    ) -> None:
        reference = new_reference()
        request = create_request(driver, reference)
        first = await driver.provider.create_payment(request)
        again = await driver.provider.create_payment(request)
        assert again == first
        assert await names(driver, first.key_at_provider) == opening(driver)
        assert await driver.payments_made(reference) == 1

    async def test_a_key_used_for_another_payment_is_refused(self, driver: ContractDriver) -> None:
        first, other = new_reference(), new_reference()
        key = f"{first}-create"
        await driver.provider.create_payment(create_request(driver, first, key=key))
        with pytest.raises(ProviderError) as exc:
            await driver.provider.create_payment(create_request(driver, other, key=key))
        refusal(exc)
        assert await driver.payments_made(other) == 0
        assert await driver.payments_made(first) == 1

    async def test_a_key_used_with_other_details_is_refused(self, driver: ContractDriver) -> None:
        reference = new_reference()
        request = create_request(driver, reference)
        answer = await driver.provider.create_payment(request)
        with pytest.raises(ProviderError) as exc:
            await driver.provider.create_payment(replace(request, amount=money(driver, 1)))
        refusal(exc)
        assert (await driver.provider.get_payment(answer.key_at_provider)).amount == money(
            driver, AMOUNT
        )
        assert await driver.payments_made(reference) == 1

    async def test_an_unknown_reference_is_not_found(self, driver: ContractDriver) -> None:
        with pytest.raises(PaymentNotFound):
            await driver.provider.get_payment(new_reference())

    # --- the payer and the clock ------------------------------------------------------

    async def test_approved_is_authorized(self, driver: ContractDriver) -> None:
        payment = await authorized(driver)
        snapshot = await driver.provider.get_payment(payment.key)
        assert snapshot.state is ProviderState.authorized
        taken = AMOUNT if driver.captures_at_approval else 0
        assert amounts(snapshot) == (AMOUNT, taken, 0, 0)

    async def test_declined_is_aborted(self, driver: ContractDriver) -> None:
        """A refusal ends the payment (aborted), or, where the payer may try again, leaves it
        waiting with the refusal on its log as an unsuccessful event."""
        payment = await created(driver)
        await driver.decline(payment.key)
        snapshot = await driver.provider.get_payment(payment.key)
        assert snapshot.authorized == 0
        events = await driver.provider.get_events(payment.key)
        if driver.refusal_ends_payment:
            assert snapshot.state is ProviderState.aborted
            assert [e.name for e in events] == [*opening(driver), EventName.aborted]
        else:
            assert snapshot.state is ProviderState.created
            assert [e.success for e in events] == [*(True for _ in opening(driver)), False]

    async def test_out_of_time_is_expired(self, driver: ContractDriver) -> None:
        payment = await created(driver)
        await driver.expire(payment.key)
        snapshot = await driver.provider.get_payment(payment.key)
        assert snapshot.state is ProviderState.expired
        assert snapshot.authorized == 0
        assert await names(driver, payment.key) == [*opening(driver), EventName.expired]

    # --- cancel -------------------------------------------------------------------------

    async def test_cancel_before_approval_terminates(self, driver: ContractDriver) -> None:
        payment = await created(driver)
        key = f"{payment.reference}-c"
        snapshot = await driver.provider.cancel(payment.key, idempotency_key=key)
        assert snapshot.state is ProviderState.terminated
        assert snapshot.authorized == 0
        later = ProviderState.terminated if driver.remembers_cancel else ProviderState.expired
        assert (await driver.provider.get_payment(payment.key)).state is later
        assert await names(driver, payment.key) == [*opening(driver), EventName.terminated]

    async def test_cancel_after_approval_is_already_authorized(
        self, driver: ContractDriver
    ) -> None:
        payment = await authorized(driver)
        before = await driver.provider.get_payment(payment.key)
        assert before.state is ProviderState.authorized and before.authorized == AMOUNT
        with pytest.raises(AlreadyAuthorized):
            await driver.provider.cancel(payment.key, idempotency_key=f"{payment.reference}-c")
        after = await driver.provider.get_payment(payment.key)
        assert after.state is ProviderState.authorized
        assert amounts(after) == amounts(before)  # nothing was released (or taken)

    # --- capture and refund -------------------------------------------------------------

    async def test_capture_takes_the_whole_amount_once(self, driver: ContractDriver) -> None:
        payment = await authorized(driver)
        key = f"{payment.reference}-capture"
        snapshot = await driver.provider.capture(
            payment.key, money(driver, AMOUNT), idempotency_key=key
        )
        assert amounts(snapshot) == (AMOUNT, AMOUNT, 0, 0)
        again = await driver.provider.capture(
            payment.key, money(driver, AMOUNT), idempotency_key=key
        )
        assert amounts(again) == (AMOUNT, AMOUNT, 0, 0)
        assert (await names(driver, payment.key)).count(EventName.captured) == 1

    async def test_a_capture_key_reused_with_another_amount_is_refused(
        self, driver: ContractDriver
    ) -> None:
        payment = await authorized(driver)
        key = f"{payment.reference}-capture"
        first = await driver.provider.capture(
            payment.key, money(driver, 4_000), idempotency_key=key
        )
        if driver.captures_at_approval:  # nothing to take: each answers with what was taken
            again = await driver.provider.capture(
                payment.key, money(driver, 6_000), idempotency_key=key
            )
            assert first.captured == again.captured == AMOUNT
            assert (await names(driver, payment.key)).count(EventName.captured) == 1
            return
        with pytest.raises(ProviderError) as exc:
            await driver.provider.capture(payment.key, money(driver, 6_000), idempotency_key=key)
        refusal(exc)
        assert (await driver.provider.get_payment(payment.key)).captured == 4_000

    async def test_a_capture_above_the_authorization_is_refused(
        self, driver: ContractDriver
    ) -> None:
        payment = await authorized(driver)
        before = await driver.provider.get_payment(payment.key)
        with pytest.raises(ProviderError) as exc:
            await driver.provider.capture(
                payment.key,
                money(driver, AMOUNT + 1),
                idempotency_key=f"{payment.reference}-capture",
            )
        refusal(exc)
        assert amounts(await driver.provider.get_payment(payment.key)) == amounts(before)

    async def test_refund_part_then_the_rest(self, driver: ContractDriver) -> None:
        payment = await captured(driver)
        part = await driver.provider.refund(
            payment.key, money(driver, 3_000), idempotency_key=f"{payment.reference}-r1"
        )
        assert amounts(part) == (AMOUNT, AMOUNT, 0, 3_000)
        rest = await driver.provider.refund(
            payment.key, money(driver, AMOUNT - 3_000), idempotency_key=f"{payment.reference}-r2"
        )
        assert amounts(rest) == (AMOUNT, AMOUNT, 0, AMOUNT)
        assert rest.state is ProviderState.authorized

    async def test_a_refund_above_what_was_captured_is_refused(
        self, driver: ContractDriver
    ) -> None:
        payment = await authorized(driver)
        await driver.provider.capture(
            payment.key, money(driver, 4_000), idempotency_key=f"{payment.reference}-capture"
        )
        # What the capture took: 4 000, or all of it where the payment was captured at once.
        taken = (await driver.provider.get_payment(payment.key)).captured
        assert taken >= 4_000
        with pytest.raises(ProviderError) as exc:
            await driver.provider.refund(
                payment.key, money(driver, taken + 1), idempotency_key=f"{payment.reference}-r1"
            )
        refusal(exc)
        assert (await driver.provider.get_payment(payment.key)).refunded == 0

    async def test_events_are_in_order_with_their_amounts(self, driver: ContractDriver) -> None:
        payment = await captured(driver)
        await driver.provider.refund(
            payment.key, money(driver, 1_000), idempotency_key=f"{payment.reference}-r1"
        )
        events = await driver.provider.get_events(payment.key)
        # Approval and capture are one event where the approval takes the money at once.
        approval = [] if driver.captures_at_approval else [(EventName.authorized, AMOUNT)]
        changes = [*approval, (EventName.captured, AMOUNT), (EventName.refunded, 1_000)]
        assert [(e.name, e.amount.amount) for e in events] == [
            *[(name, AMOUNT) for name in opening(driver)],
            *changes,
        ]
        moments = [event.occurred_at for event in events]
        assert moments == sorted(moments)
        assert all(event.reference == payment.reference and event.success for event in events)
        changed = events[-len(changes) :]
        assert len({event.psp_reference for event in changed}) == len(changes)  # one per change

    # --- webhooks -------------------------------------------------------------------------

    async def test_a_genuine_webhook_is_accepted_and_read(self, driver: ContractDriver) -> None:
        payment = await captured(driver)
        logged = await driver.provider.get_events(payment.key)
        assert logged and logged[-1].name is EventName.captured
        received = await driver.webhooks(payment.reference, len(logged))
        events = [parse(driver, hook) for hook in received]
        assert [(e.name, e.amount) for e in events] == [(e.name, e.amount) for e in logged]
        assert events[-1].amount == money(driver, AMOUNT)
        assert {event.reference for event in events} == {payment.reference}
        assert {event.merchant_id for event in events} == {driver.provider.merchant_id}
        assert events == [driver.provider.read_event(hook.body) for hook in received]
        assert [dedupe_key(replace_merchant(e, driver)) for e in logged] == [
            dedupe_key(e) for e in events
        ]

    async def test_a_duplicated_webhook_is_the_same_event(self, driver: ContractDriver) -> None:
        await driver.webhook_faults(duplicate=True)
        payment = await captured(driver)
        await driver.provider.refund(
            payment.key, money(driver, 1_000), idempotency_key=f"{payment.reference}-r1"
        )
        await driver.provider.refund(
            payment.key, money(driver, 2_000), idempotency_key=f"{payment.reference}-r2"
        )
        logged = await driver.provider.get_events(payment.key)
        assert [e.name for e in logged[-2:]] == [EventName.refunded, EventName.refunded]
        received = await driver.webhooks(payment.reference, 2 * len(logged))  # each twice
        keys = [dedupe_key(parse(driver, hook)) for hook in received]
        assert len(keys) == 2 * len(logged)
        # The two refunds are two events, their copies one each.
        assert set(keys) == {dedupe_key(replace_merchant(e, driver)) for e in logged}
        assert len(set(keys)) == len(logged)
        assert all(keys.count(key) == 2 for key in keys)

    async def test_reordered_webhooks_are_each_read(self, driver: ContractDriver) -> None:
        await driver.webhook_faults(reorder=True)
        payment = await captured(driver)
        await driver.provider.refund(
            payment.key, money(driver, 1_000), idempotency_key=f"{payment.reference}-r1"
        )
        logged = await driver.provider.get_events(payment.key)
        received = await driver.webhooks(payment.reference, len(logged))
        events = [parse(driver, hook) for hook in reversed(received)]  # newest first
        assert len(events) == len(logged)
        assert {(e.name, e.psp_reference, e.amount) for e in events} == {
            (e.name, e.psp_reference, e.amount) for e in logged
        }

    async def test_forged_webhooks_are_rejected(self, driver: ContractDriver) -> None:
        payment = await authorized(driver)
        genuine = (await driver.webhooks(payment.reference, 1))[0]
        forged = altered(genuine, payment.reference)
        with pytest.raises(WebhookRejected):
            driver.provider.parse_webhook(forged, genuine.headers, secrets=[driver.secret])
        with pytest.raises(WebhookRejected) as unsigned:
            driver.provider.parse_webhook(genuine.body, {}, secrets=[driver.secret])
        assert not isinstance(unsigned.value, WebhookSecretUnknown)
        with pytest.raises(WebhookSecretUnknown):
            driver.provider.parse_webhook(genuine.body, genuine.headers, secrets=["not-ours"])
        resigned = driver.sign(forged, "not-ours")
        with pytest.raises(WebhookSecretUnknown):
            driver.provider.parse_webhook(forged, resigned, secrets=[driver.secret])

    async def test_an_altered_body_is_not_whole(self, driver: ContractDriver) -> None:
        """A body changed after signing is told apart from one signed with another secret
        (WebhookSecretUnknown): the signature covers a hash of the body of its own."""
        payment = await authorized(driver)
        genuine = (await driver.webhooks(payment.reference, 1))[0]
        with pytest.raises(WebhookRejected) as exc:
            driver.provider.parse_webhook(
                altered(genuine, payment.reference), genuine.headers, secrets=[driver.secret]
            )
        # Without a hash of its own, an altered body looks signed with a secret we do not hold.
        assert isinstance(exc.value, WebhookSecretUnknown) is not driver.signs_body_hash

    async def test_a_genuine_body_that_is_no_event_is_unreadable(
        self, driver: ContractDriver
    ) -> None:
        body = b'{"hello": "world"}'
        with pytest.raises(WebhookUnreadable):
            driver.provider.parse_webhook(
                body, driver.sign(body, driver.secret), secrets=[driver.secret]
            )
        with pytest.raises(WebhookUnreadable):
            driver.provider.read_event(b"not json")

    # --- faults -------------------------------------------------------------------------

    async def test_create_after_a_server_error_makes_one_payment(
        self, driver: ContractDriver
    ) -> None:
        reference = new_reference()
        request = create_request(driver, reference)
        await driver.set_fault(Fault.server_error)
        with pytest.raises(ProviderError) as exc:
            await driver.provider.create_payment(request)
        assert exc.value.retryable
        await driver.set_fault(None)
        assert await driver.payments_made(reference) == 0  # nothing happened
        answer = await driver.provider.create_payment(request)
        assert isinstance(answer, CreatedPayment) and answer.reference == reference
        assert await names(driver, answer.key_at_provider) == opening(driver)
        assert await driver.payments_made(reference) == 1

    async def test_capture_after_a_server_error_captures_once(self, driver: ContractDriver) -> None:
        payment = await authorized(driver)
        key = f"{payment.reference}-capture"
        before = await driver.provider.get_payment(payment.key)
        await driver.set_fault(Fault.server_error)
        with pytest.raises(ProviderError) as exc:
            await driver.provider.capture(payment.key, money(driver, AMOUNT), idempotency_key=key)
        assert exc.value.retryable
        await driver.set_fault(None)
        assert amounts(await driver.provider.get_payment(payment.key)) == amounts(before)
        snapshot = await driver.provider.capture(
            payment.key, money(driver, AMOUNT), idempotency_key=key
        )
        assert snapshot.captured == AMOUNT
        assert (await names(driver, payment.key)).count(EventName.captured) == 1

    async def test_a_lost_create_answer_is_found_with_the_same_key(
        self, driver: ContractDriver
    ) -> None:
        reference = new_reference()
        request = create_request(driver, reference)
        await driver.set_fault(Fault.outcome_unknown)
        with pytest.raises(OutcomeUnknown):
            await driver.provider.create_payment(request)
        await driver.set_fault(None)
        assert await driver.payments_made(reference) == 1  # it happened
        answer = await driver.provider.create_payment(request)
        assert answer.reference == reference
        snapshot = await driver.provider.get_payment(answer.key_at_provider)
        assert (snapshot.reference, snapshot.state) == (reference, ProviderState.created)
        assert await names(driver, answer.key_at_provider) == opening(driver)
        assert await driver.payments_made(reference) == 1

    async def test_a_lost_capture_answer_is_the_same_capture_again(
        self, driver: ContractDriver
    ) -> None:
        payment = await authorized(driver)
        key = f"{payment.reference}-capture"
        await driver.set_fault(Fault.outcome_unknown)
        with pytest.raises(ProviderError) as lost:
            await driver.provider.capture(payment.key, money(driver, AMOUNT), idempotency_key=key)
        # A capture that changes something cannot know whether it did; one that only reads
        # (the money was taken at approval) fails plainly, to be tried again.
        if driver.captures_at_approval:
            assert lost.value.retryable and not isinstance(lost.value, OutcomeUnknown)
        else:
            assert isinstance(lost.value, OutcomeUnknown)
        await driver.set_fault(None)
        assert (await driver.provider.get_payment(payment.key)).captured == AMOUNT  # it happened
        again = await driver.provider.capture(
            payment.key, money(driver, AMOUNT), idempotency_key=key
        )
        assert amounts(again) == (AMOUNT, AMOUNT, 0, 0)
        assert (await names(driver, payment.key)).count(EventName.captured) == 1

    async def test_a_rate_limit_says_when_to_try_again(self, driver: ContractDriver) -> None:
        payment = await authorized(driver)
        key = f"{payment.reference}-capture"
        before = await driver.provider.get_payment(payment.key)
        await driver.set_fault(Fault.rate_limited)
        with pytest.raises(TryAgainLater) as exc:
            await driver.provider.capture(payment.key, money(driver, AMOUNT), idempotency_key=key)
        assert exc.value.retryable and exc.value.retry_after.total_seconds() > 0
        await driver.set_fault(None)
        assert amounts(await driver.provider.get_payment(payment.key)) == amounts(before)
        snapshot = await driver.provider.capture(
            payment.key, money(driver, AMOUNT), idempotency_key=key
        )
        assert snapshot.captured == AMOUNT
        assert (await names(driver, payment.key)).count(EventName.captured) == 1


def parse(driver: ContractDriver, hook: Webhook) -> ProviderEvent:
    return driver.provider.parse_webhook(hook.body, hook.headers, secrets=[driver.secret])


def altered(genuine: Webhook, reference: str) -> bytes:
    """The genuine body made about another payment: every mention of `reference` replaced."""
    data = json.loads(genuine.body)
    forged = genuine.body.replace(
        json.dumps(reference).encode(), json.dumps(new_reference()).encode()
    )
    assert forged != genuine.body and json.loads(forged) != data
    return forged


def replace_merchant(event: ProviderEvent, driver: ContractDriver) -> ProviderEvent:
    """An event of the log as its webhook names it: some providers leave the account out of
    the log's entries (Vipps MobilePay's event log has no MSN), never out of a webhook."""
    if event.merchant_id is not None:
        return event
    return replace(event, merchant_id=driver.provider.merchant_id)
