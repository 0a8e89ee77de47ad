"""What the FakeProvider does beyond the contract: its own controls and settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payrequest.kit.money import Money
from payrequest.providers.base import (
    AccountRefusal,
    Capabilities,
    CreatePayment,
    Declined,
    EventName,
    PaymentProvider,
    ProviderError,
    ProviderState,
    UserFlow,
)
from payrequest.providers.fake import ControlRefused, FakeProvider

NOK = "NOK"


def request(
    reference: str = "r-1",
    *,
    user_flow: UserFlow = UserFlow.qr,
    expires_at: datetime | None = None,
) -> CreatePayment:
    return CreatePayment(
        reference=reference,
        amount=Money(5_000, NOK),
        description="Invoice 7",
        user_flow=user_flow,
        idempotency_key=f"{reference}-create",
        expires_at=expires_at,
    )


async def test_it_is_a_payment_provider_with_its_own_key_for_each_payment() -> None:
    fake = FakeProvider()
    assert isinstance(fake, PaymentProvider)
    created = await fake.create_payment(request())
    assert created.provider_reference is not None
    assert created.provider_reference.startswith("fake_")
    assert created.redirect_url and created.provider_reference in created.redirect_url
    by_key = await fake.get_payment(created.provider_reference)
    assert by_key == await fake.get_payment("r-1")


async def test_release_gives_back_what_was_not_captured() -> None:
    fake = FakeProvider()
    await fake.create_payment(request())
    fake.approve("r-1")
    await fake.capture("r-1", Money(2_000, NOK), idempotency_key="c1")
    released = fake.release("r-1")
    assert (released.captured, released.cancelled) == (2_000, 3_000)
    with pytest.raises(ProviderError) as exc:
        await fake.capture("r-1", Money(1_000, NOK), idempotency_key="c2")
    assert not exc.value.retryable
    assert [e.name for e in await fake.get_events("r-1")][-1] is EventName.cancelled


async def test_controls_refuse_a_payment_that_is_not_open() -> None:
    fake = FakeProvider()
    await fake.create_payment(request())
    fake.decline("r-1", "insufficient_funds")
    assert fake.decline_reason("r-1") == "insufficient_funds"
    with pytest.raises(ControlRefused):
        fake.approve("r-1")


async def test_a_declined_fault_refuses_the_call_with_its_reason() -> None:
    fake = FakeProvider()
    fake.fail_next("declined", operation="create", reason="expired_card")
    with pytest.raises(Declined) as exc:
        await fake.create_payment(request())
    assert exc.value.reason == "expired_card" and not exc.value.retryable
    assert (await fake.create_payment(request())).reference == "r-1"  # nothing was kept


async def test_an_open_payment_expires_on_its_own_clock() -> None:
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    fake = FakeProvider(now=lambda: now)
    await fake.create_payment(request())
    now += timedelta(minutes=11)
    assert (await fake.get_payment("r-1")).state is ProviderState.expired


async def test_account_refusals_follow_the_capabilities() -> None:
    fake = FakeProvider(
        capabilities=Capabilities(push=False, long_living=False), full_capture_only=True
    )
    with pytest.raises(ProviderError) as push:
        await fake.create_payment(request("r-push", user_flow=UserFlow.push))
    assert push.value.refusal is AccountRefusal.push
    later = datetime.now(UTC) + timedelta(hours=2)
    with pytest.raises(ProviderError) as long_living:
        await fake.create_payment(request("r-long", expires_at=later))
    assert long_living.value.refusal is AccountRefusal.long_living
    await fake.create_payment(request())
    fake.approve("r-1")
    with pytest.raises(ProviderError) as partial:
        await fake.capture("r-1", Money(1_000, NOK), idempotency_key="c1")
    assert partial.value.refusal is AccountRefusal.partial_capture


async def test_webhooks_go_to_every_registration_until_deleted() -> None:
    fake = FakeProvider()
    first, _ = await fake.register_webhook("https://a.example/hook")
    await fake.register_webhook("https://b.example/hook")
    await fake.create_payment(request())
    assert {d.url for d in fake.pending_webhooks()} == {
        "https://a.example/hook",
        "https://b.example/hook",
    }
    assert len(fake.emit_webhooks()) == 2 and fake.pending_webhooks() == []
    await fake.delete_webhook(first)
    fake.approve("r-1")
    assert [d.url for d in fake.emit_webhooks()] == ["https://b.example/hook"]
    assert [w.url for w in await fake.list_webhooks()] == ["https://b.example/hook"]
