"""The provider contract (tests/providers/contract.py) for the in-memory FakeProvider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from payrequest.providers.fake import FakeProvider, FaultKind
from payrequest.providers.fake.webhooks import signed_headers
from tests.providers.contract import ContractDriver, Fault, ProviderContract, Webhook

RECEIVER = "https://payrequest.example/webhooks/fake"


class FakeDriver:
    """Plays the payer and the network with the fake's own controls."""

    currency = "NOK"
    logs_creation = True
    captures_at_approval = False
    refusal_ends_payment = True
    remembers_cancel = True
    signs_body_hash = True

    def __init__(self, provider: FakeProvider, endpoint_id: str, secret: str) -> None:
        self.provider = provider
        self.fake = provider
        self.endpoint_id = endpoint_id
        self.secret = secret
        self.duplicate = False
        self.reorder = False
        self.received: list[tuple[str, Webhook]] = []
        self.known_gaps: dict[str, str] = {}

    async def approve(self, key: str) -> None:
        self.fake.approve(key)

    async def decline(self, key: str) -> None:
        self.fake.decline(key, "insufficient_funds")

    async def expire(self, key: str) -> None:
        self.fake.expire(key)

    async def payments_made(self, reference: str) -> int:
        """The fake keeps one payment per reference of ours (its ledger, not a call)."""
        return 1 if reference in self.fake.ledger.payments else 0

    async def set_fault(self, fault: Fault | None) -> None:
        if fault is None:
            self.fake.clear_faults()
        else:
            self.fake.fail_next(FaultKind(fault.value))

    async def webhook_faults(self, *, duplicate: bool = False, reorder: bool = False) -> None:
        self.duplicate, self.reorder = duplicate, reorder

    async def webhooks(self, reference: str, count: int) -> list[Webhook]:
        for delivery in self.fake.emit_webhooks(
            reference, duplicate=self.duplicate, reorder=self.reorder
        ):
            self.received.append((delivery.reference, Webhook(delivery.body, delivery.headers)))
        mine = [hook for ref, hook in self.received if ref == reference]
        assert len(mine) >= count, f"expected {count} webhooks, got {len(mine)}"
        return mine

    def sign(self, body: bytes, secret: str) -> dict[str, str]:
        return signed_headers(self.endpoint_id, secret, body)


@pytest.fixture
async def driver() -> AsyncIterator[ContractDriver]:
    provider = FakeProvider()
    endpoint_id, secret = await provider.register_webhook(RECEIVER)
    yield FakeDriver(provider, endpoint_id, secret)
    await provider.close()


class TestFakeContract(ProviderContract):
    pass
