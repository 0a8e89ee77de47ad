"""The Stripe adapter when Stripe fails: a 5xx or a lost answer retried by the SDK with the
same idempotency key (one session), a 429 as TryAgainLater, a refused key, no answer at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe

from payrequest.providers.base import OutcomeUnknown, ProviderError, TryAgainLater
from payrequest.providers.stripe import StripeAccount, StripeProvider, build_stripe
from payrequest.providers.stripe.mapping import KEY_REFUSED
from tests.providers.stripe.helpers import Scripted, new_payment
from tests.sandbox.helpers import free_port
from tests.sandbox.stripe.helpers import Emulator


def _sessions_of(client: stripe.StripeClient, reference: str) -> list[str]:
    listed = client.v1.checkout.sessions.list(params={"limit": 100})
    return [s.id for s in listed.data if s.client_reference_id == reference]


async def test_a_server_error_is_retried_into_one_session(
    provider: StripeProvider, emulator: Emulator, client: stripe.StripeClient
) -> None:
    script = Scripted([0.0])  # the first call fails, the retry goes through
    emulator.emu.rng = script
    emulator.control("PATCH", "/faults", json={"error_rate": 0.5})
    request = new_payment()
    created = await provider.create_payment(request)
    assert not script.values  # the 5xx was answered
    emulator.control("PATCH", "/faults", json={"error_rate": 0.0})
    assert _sessions_of(client, request.reference) == [created.provider_reference]


async def test_a_lost_answer_is_retried_with_the_same_key(
    provider: StripeProvider, emulator: Emulator, client: stripe.StripeClient
) -> None:
    script = Scripted([0.0])  # the first create is made, its answer lost
    emulator.emu.rng = script
    emulator.control("PATCH", "/faults", json={"timeout_rate": 0.5, "timeout_mode": "close"})
    request = new_payment()
    created = await provider.create_payment(request)
    assert not script.values  # the answer was lost
    emulator.control("PATCH", "/faults", json={"timeout_rate": 0.0})
    assert _sessions_of(client, request.reference) == [created.provider_reference]


async def test_servers_failing_throughout(provider: StripeProvider, emulator: Emulator) -> None:
    emulator.control("PATCH", "/faults", json={"error_rate": 1.0})
    with pytest.raises(ProviderError) as failed:
        await provider.create_payment(new_payment())
    assert failed.value.retryable and failed.value.status in (500, 502, 503)
    assert failed.value.trace_id is not None and failed.value.trace_id.startswith("req_")


async def test_a_rate_limit_is_try_again_later(
    provider: StripeProvider, emulator: Emulator
) -> None:
    emulator.control("PATCH", "/faults", json={"rate_limit_rate": 1.0})
    with pytest.raises(TryAgainLater) as limited:
        await provider.create_payment(new_payment())
    assert limited.value.status == 429 and limited.value.code == "rate_limit"
    assert limited.value.retry_after == timedelta(seconds=2) and limited.value.retryable


async def test_a_refused_key(emulator: Emulator) -> None:
    wrong = build_stripe(
        StripeAccount(secret_key="sk_test_unknown", account="a", api_base=emulator.base)
    )
    try:
        with pytest.raises(ProviderError) as refused:
            await wrong.create_payment(new_payment())
    finally:
        await wrong.close()
    assert refused.value.message == KEY_REFUSED and refused.value.status == 401
    assert not refused.value.retryable


async def test_nobody_answers() -> None:
    nowhere = build_stripe(
        StripeAccount(
            secret_key="sk_test_x",
            account="a",
            api_base=f"http://127.0.0.1:{free_port()}",
            max_network_retries=0,
        )
    )
    try:
        with pytest.raises(OutcomeUnknown):
            await nowhere.create_payment(new_payment())
        with pytest.raises(ProviderError) as unanswered:
            await nowhere.get_payment("cs_test_1")
    finally:
        await nowhere.close()
    assert unanswered.value.retryable and not isinstance(unanswered.value, OutcomeUnknown)
