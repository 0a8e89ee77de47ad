"""Fixtures for the Stripe adapter: the real StripeProvider against the Stripe emulator served
over HTTP by uvicorn (the emulator's own fixtures, tests/sandbox/stripe/conftest.py), and a
real webhook receiver (tests/sandbox/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from payrequest.providers.stripe import StripeAccount, StripeProvider, build_stripe
from tests.sandbox.conftest import receiver  # noqa: F401 - a fixture
from tests.sandbox.stripe.conftest import client, emulator, stripe_config  # noqa: F401
from tests.sandbox.stripe.helpers import KEY, Emulator

ACCOUNT = "acct_payrequest_test"


@pytest.fixture
async def provider(emulator: Emulator) -> AsyncIterator[StripeProvider]:  # noqa: F811
    stripe = build_stripe(
        StripeAccount(secret_key=KEY, account=ACCOUNT, api_base=emulator.base, timeout_seconds=5)
    )
    yield stripe
    await stripe.close()
