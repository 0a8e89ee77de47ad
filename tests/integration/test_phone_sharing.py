"""A number the payer shared (PaymentSnapshot.payer_phone) is kept on the request and followed up
on the customer: saved with the portal consent, else suggested to staff, never overwriting a
number staff entered; staff use or dismiss a suggestion. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.customers import service as customer_service
from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerInput
from payrequest.errors import Conflict
from payrequest.events import names
from payrequest.events.models import OutboxEvent
from payrequest.jobs.models import Job
from payrequest.kit.clock import utcnow
from payrequest.kit.money import Money
from payrequest.payment_requests import apply, phones, workflows
from payrequest.payment_requests.models import PaymentRequest, PaymentRequestEvent
from payrequest.payment_requests.schemas import NewPaymentRequest
from payrequest.payment_requests.service import Lifetime, create_request
from payrequest.payment_requests.state import Status
from payrequest.providers.base import (
    Capabilities,
    OneProvider,
    PaymentProvider,
    PaymentSnapshot,
    ProviderState,
)
from tests.factories import make_customer, make_invoice

Sessions = async_sessionmaker[AsyncSession]
SHARED = "+4791834562"
STAFF_NUMBER = "+4791234567"
LIFETIME = Lifetime(60, Capabilities())


async def _request(
    sessions: Sessions, *, customer_phone: str = "", save_phone: bool = False
) -> tuple[int, str]:
    """A QR request that asked for sharing, already created at the provider."""
    async with sessions() as session, session.begin():
        customer = await make_customer(session, phone=customer_phone)
        invoice = await make_invoice(session, customer, amount=25_000)
        request = await create_request(
            session,
            data=NewPaymentRequest(customer_id=customer.id, invoice_ids=[invoice.id]),
            lifetime=LIFETIME,
        )
        # What the send path sets for a request whose customer has no number (portal: with
        # the customer's consent to keep it).
        request.share_phone = True
        request.save_phone = save_phone
        reference = request.reference
        await apply.apply_outcome(
            session, reference=reference, target=Status.pending, source="system"
        )
        return customer.id, reference


async def _another_request(
    sessions: Sessions, customer_id: int, *, share_phone: bool = False
) -> str:
    """A further QR request of the same customer, for a new invoice; its reference."""
    async with sessions() as session, session.begin():
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        invoice = await make_invoice(session, customer, amount=25_000)
        request = await create_request(
            session,
            data=NewPaymentRequest(
                customer_id=customer_id, invoice_ids=[invoice.id], user_flow="qr"
            ),
            lifetime=LIFETIME,
        )
        if share_phone:  # the payer is asked to share their number
            request.share_phone = True
        return request.reference


def _captured(reference: str, phone: str | None = SHARED) -> PaymentSnapshot:
    return PaymentSnapshot(
        reference,
        ProviderState.authorized,
        Money(25_000, "NOK"),
        authorized=25_000,
        captured=25_000,
        cancelled=0,
        refunded=0,
        payer_phone=phone,
    )


async def _apply(sessions: Sessions, snapshot: PaymentSnapshot) -> None:
    async with sessions() as session, session.begin():
        await apply.apply_snapshot(session, snapshot=snapshot, source="system")


async def _use(sessions: Sessions, customer_id: int, *, shown_phone: str | None) -> None:
    """Staff press 'Use this number' on a card that showed `shown_phone` and SHARED."""
    async with sessions() as session, session.begin():
        await phones.use_learned_phone(
            session,
            customer_id=customer_id,
            shown_phone=shown_phone,
            shown_suggestion=SHARED,
            user_id=None,
        )


async def _state(sessions: Sessions, customer_id: int, reference: str) -> dict[str, Any]:
    async with sessions() as session:
        customer = await session.get(Customer, customer_id)
        assert customer is not None
        request = (
            await session.execute(
                select(PaymentRequest).where(PaymentRequest.reference == reference)
            )
        ).scalar_one()
        notes = (
            await session.execute(
                select(PaymentRequestEvent.details)
                .where(
                    PaymentRequestEvent.payment_request_id == request.id,
                    PaymentRequestEvent.kind == "note",
                )
                .order_by(PaymentRequestEvent.id)
            )
        ).scalars()
        events = (
            await session.execute(
                select(OutboxEvent.name, OutboxEvent.payload)
                .where(OutboxEvent.name.like("customer.phone%"))
                .order_by(OutboxEvent.id)
            )
        ).all()
        return {
            "status": request.status,
            "payer_phone": request.payer_phone,
            "phone": customer.phone,
            "suggested": customer.suggested_phone,
            "suggested_from": customer.suggested_phone_request_id == request.id,
            "notes": [d["phone"] for d in notes],
            "events": [(name, payload["outcome"]) for name, payload in events],
        }


async def test_without_consent_the_number_is_suggested_once(sessions: Sessions) -> None:
    customer_id, reference = await _request(sessions)
    await _apply(sessions, _captured(reference))
    first = await _state(sessions, customer_id, reference)
    assert first == {
        "status": "paid",
        "payer_phone": SHARED,
        "phone": None,
        "suggested": SHARED,
        "suggested_from": True,
        "notes": ["suggested"],
        "events": [(names.CUSTOMER_PHONE_LEARNED, "suggested")],
    }
    async with sessions() as session:
        payload = (
            await session.execute(
                select(OutboxEvent.payload).where(OutboxEvent.name == names.CUSTOMER_PHONE_LEARNED)
            )
        ).scalar_one()
    assert payload == {"reference": reference, "phone": SHARED, "outcome": "suggested"}
    await _apply(sessions, _captured(reference))  # a poll, a repeated capture: nothing more
    assert await _state(sessions, customer_id, reference) == first


async def test_with_consent_a_customer_without_a_number_gets_it(sessions: Sessions) -> None:
    customer_id, reference = await _request(sessions, save_phone=True)
    await _apply(sessions, _captured(reference))
    state = await _state(sessions, customer_id, reference)
    assert (state["phone"], state["suggested"], state["payer_phone"]) == (SHARED, None, SHARED)
    assert state["notes"] == ["saved"]
    assert state["events"] == [(names.CUSTOMER_PHONE_LEARNED, "saved")]
    await _apply(sessions, _captured(reference))
    assert await _state(sessions, customer_id, reference) == state


async def test_consent_never_overwrites_a_number_staff_entered(sessions: Sessions) -> None:
    customer_id, reference = await _request(sessions, customer_phone=STAFF_NUMBER, save_phone=True)
    await _apply(sessions, _captured(reference))
    state = await _state(sessions, customer_id, reference)
    assert (state["phone"], state["suggested"]) == (STAFF_NUMBER, SHARED)


async def test_the_customers_own_number_changes_nothing(sessions: Sessions) -> None:
    customer_id, reference = await _request(sessions, customer_phone=SHARED)
    await _apply(sessions, _captured(reference))
    state = await _state(sessions, customer_id, reference)
    assert (state["phone"], state["suggested"], state["payer_phone"]) == (SHARED, None, SHARED)
    assert state["notes"] == [] and state["events"] == []


async def test_a_snapshot_without_a_number_changes_nothing(sessions: Sessions) -> None:
    customer_id, reference = await _request(sessions)
    await _apply(sessions, _captured(reference, phone=None))
    state = await _state(sessions, customer_id, reference)
    assert (state["status"], state["payer_phone"], state["suggested"]) == ("paid", None, None)


async def test_use_sets_the_number_only_if_the_card_was_current(sessions: Sessions) -> None:
    customer_id, reference = await _request(sessions)
    await _apply(sessions, _captured(reference))
    async with sessions() as session, session.begin():  # staff edit the number meanwhile
        await customer_service.update_customer(
            session,
            customer_id=customer_id,
            data=CustomerInput(name="Kari Nordmann", phone=STAFF_NUMBER),
        )
    with pytest.raises(Conflict) as refused:
        await _use(sessions, customer_id, shown_phone=None)
    assert refused.value.code == "phone_changed"
    assert "+47 91 23 45 67" in refused.value.message
    state = await _state(sessions, customer_id, reference)
    assert (state["phone"], state["suggested"]) == (STAFF_NUMBER, SHARED)

    await _use(sessions, customer_id, shown_phone=STAFF_NUMBER)
    state = await _state(sessions, customer_id, reference)
    assert (state["phone"], state["suggested"]) == (SHARED, None)
    assert state["notes"] == ["suggested", "used"]
    assert state["events"][-1] == (names.CUSTOMER_PHONE_DECIDED, "used")
    with pytest.raises(Conflict) as again:  # a second click, or a colleague's
        await _use(sessions, customer_id, shown_phone=STAFF_NUMBER)
    assert again.value.code == "suggestion_changed"


async def test_a_dismissed_number_is_not_suggested_again(sessions: Sessions) -> None:
    customer_id, first = await _request(sessions, customer_phone=STAFF_NUMBER)
    await _apply(sessions, _captured(first))
    async with sessions() as session, session.begin():
        await phones.dismiss_learned_phone(
            session, customer_id=customer_id, shown_suggestion=SHARED, user_id=None
        )
    state = await _state(sessions, customer_id, first)
    assert (state["phone"], state["suggested"]) == (STAFF_NUMBER, None)
    assert state["notes"] == ["suggested", "dismissed"]

    reference = await _another_request(sessions, customer_id, share_phone=True)  # pays again
    await _apply(sessions, _captured(reference))
    state = await _state(sessions, customer_id, reference)
    assert (state["payer_phone"], state["suggested"]) == (SHARED, None)
    assert state["notes"] == ["dismissed_before"]

    reference = await _another_request(sessions, customer_id)  # but another number is offered
    await _apply(sessions, _captured(reference, phone="+4740000001"))
    assert (await _state(sessions, customer_id, reference))["suggested"] == "+4740000001"


async def test_dismissing_a_suggestion_that_changed_meanwhile_is_refused(
    sessions: Sessions,
) -> None:
    customer_id, reference = await _request(sessions)
    await _apply(sessions, _captured(reference))
    with pytest.raises(Conflict):
        async with sessions() as session, session.begin():
            await phones.dismiss_learned_phone(
                session, customer_id=customer_id, shown_suggestion="+4740000001", user_id=None
            )
    assert (await _state(sessions, customer_id, reference))["suggested"] == SHARED


class _Provider:
    """Answers GET payment with the snapshots given, in order (the rest of the protocol unused)."""

    name = "vipps"  # what the requests stored

    def __init__(self, *answers: PaymentSnapshot) -> None:
        self.answers = list(answers)
        self.reads = 0

    async def get_payment(self, reference: str) -> PaymentSnapshot:
        self.reads += 1
        return self.answers.pop(0)


async def _learn_again(sessions: Sessions, provider: PaymentProvider, reference: str) -> None:
    """One run of the job that reads the payment again for the payer's number."""
    async with sessions() as session, session.begin():
        await workflows.learn_phone_again(
            sessions, OneProvider(provider), reference=reference, apply_in=session
        )


async def test_a_number_lost_on_the_way_is_read_again_later(sessions: Sessions) -> None:
    """The provider's lookup failed when the payment was captured (no number in its answer):
    one job reads the payment again, backing off until the number comes."""
    customer_id, reference = await _request(sessions)
    await _apply(sessions, _captured(reference, phone=None))
    await _apply(sessions, _captured(reference, phone=None))  # a poll: still one job
    async with sessions() as session:
        jobs = (
            (await session.execute(select(Job).where(Job.kind == phones.LEARN_AGAIN_JOB)))
            .scalars()
            .all()
        )
    assert [job.payload for job in jobs] == [{"reference": reference}]
    assert jobs[0].run_at > utcnow() + timedelta(seconds=30)  # a little later, not at once

    provider = cast(
        PaymentProvider, _Provider(_captured(reference, phone=None), _captured(reference))
    )
    with pytest.raises(workflows.PayerPhoneNotYetKnown):  # the job tries again later
        await _learn_again(sessions, provider, reference)
    await _learn_again(sessions, provider, reference)
    state = await _state(sessions, customer_id, reference)
    assert (state["payer_phone"], state["suggested"]) == (SHARED, SHARED)
    assert cast(_Provider, provider).reads == 2


async def test_a_request_that_did_not_ask_is_not_read_again(sessions: Sessions) -> None:
    _customer_id, reference = await _request(sessions)
    async with sessions() as session, session.begin():
        request = (
            await session.execute(
                select(PaymentRequest).where(PaymentRequest.reference == reference)
            )
        ).scalar_one()
        request.share_phone = False
    await _apply(sessions, _captured(reference, phone=None))
    async with sessions() as session:
        count = (
            (await session.execute(select(Job).where(Job.kind == phones.LEARN_AGAIN_JOB)))
            .scalars()
            .all()
        )
    assert count == []
