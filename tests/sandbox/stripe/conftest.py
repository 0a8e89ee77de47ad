"""Fixtures for the Stripe emulator tests: the emulator under uvicorn on a free loopback port
(in a thread, mounted at `/stripe` as `payrequest sandbox` mounts it), the official SDK
pointed at it, and a real webhook receiver (`receiver`, from tests/sandbox/conftest.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import stripe
import uvicorn
from fastapi import FastAPI

from payrequest.sandbox.stripe import StripeConfig, create_stripe_app, stripe_of_app
from tests.sandbox.helpers import FAST_RETRIES, free_port
from tests.sandbox.stripe.helpers import KEY, OTHER_KEY, Emulator


@pytest.fixture
def stripe_config() -> StripeConfig:
    return StripeConfig(
        secret_keys=(KEY, OTHER_KEY),
        seed=4242,
        webhook_retry_schedule=FAST_RETRIES,
        webhook_timeout=2.0,
        sweep_interval=0.02,
    )


@pytest.fixture
def emulator(stripe_config: StripeConfig) -> Iterator[Emulator]:
    app = create_stripe_app(stripe_config)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await stripe_of_app(app).start()
        try:
            yield
        finally:
            await stripe_of_app(app).stop()

    parent = FastAPI(lifespan=lifespan)
    parent.mount("/stripe", app)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(parent, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    yield Emulator(f"http://127.0.0.1:{port}/stripe", stripe_of_app(app))
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(emulator: Emulator) -> stripe.StripeClient:
    return emulator.client()
