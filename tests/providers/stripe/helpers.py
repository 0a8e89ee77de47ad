"""Helpers for the Stripe adapter tests: a payment to create, the emulator's random source
scripted, and waiting for a state."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import deque
from typing import Any

from payrequest.kit.money import Money
from payrequest.providers.base import (
    CreatePayment,
    OrderLine,
    PaymentSnapshot,
    ProviderState,
    UserFlow,
)
from payrequest.providers.stripe import StripeProvider

RETURN_URL = "https://pay.example/return?reference=r1"


def new_payment(amount: int = 49900, **fields: Any) -> CreatePayment:
    reference = fields.pop("reference", f"pr-{uuid.uuid4().hex[:12]}")
    values: dict[str, Any] = {
        "reference": reference,
        "amount": Money(amount, "NOK"),
        "description": "Invoice 10023",
        "user_flow": UserFlow.redirect,
        "idempotency_key": f"{reference}:create",
        "return_url": RETURN_URL,
        "metadata": {"customer": "7"},
    }
    values.update(fields)
    return CreatePayment(**values)


def line(name: str, quantity: str, unit: int, total: int, label: str = "") -> OrderLine:
    return OrderLine(
        line_id=name,
        name=name,
        quantity=quantity,
        unit_price_including_tax=unit,
        total=total,
        total_excluding_tax=total * 4 // 5,
        tax_amount=total - total * 4 // 5,
        tax_rate_bp=2500,
        quantity_label=label,
    )


class Scripted(random.Random):
    """A random source whose `random()` answers the scripted values first, then `rest`: the
    emulator's fault switches decide with it, so a fault hits exactly the calls we choose."""

    def __init__(self, values: list[float], rest: float = 0.99) -> None:
        super().__init__(0)
        self.values = deque(values)
        self.rest = rest

    def random(self) -> float:
        return self.values.popleft() if self.values else self.rest


async def state_becomes(
    provider: StripeProvider, session_id: str, state: ProviderState, within: float = 5.0
) -> PaymentSnapshot:
    """Poll get_payment until the payment is in `state` (the emulator's sweeper works on its
    own time)."""
    deadline = time.monotonic() + within
    while True:
        snapshot = await provider.get_payment(session_id)
        if snapshot.state is state or time.monotonic() > deadline:
            return snapshot
        await asyncio.sleep(0.02)
