"""The emulator's records: a payment with its aggregate amounts, and its events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from payrequest.sandbox.clock import iso_z

STATES = ("CREATED", "AUTHORIZED", "ABORTED", "EXPIRED", "TERMINATED")
FINAL_BEFORE_AUTH = ("ABORTED", "EXPIRED", "TERMINATED")


@dataclass
class Payment:
    msn: str
    reference: str
    currency: str
    value: int
    user_flow: str
    payment_method: str
    psp_reference: str
    created_at: datetime
    expires_at: datetime  # real moment of expiry (already scaled by the clock speed)
    redirect_token: str
    state: str = "CREATED"
    phone: str | None = None
    description: str | None = None
    receipt: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    return_url: str | None = None
    qr_format: str | None = None
    qr_size: int | None = None
    long_living: bool = False
    processing: bool = False  # magic amount 201: approval result unknown
    decline_reason: str | None = None  # last failed approval, shown on the phone
    profile_scope: str | None = None
    profile_sub: str | None = None  # set when the user shares the profile (consent screen)
    authorized_at: datetime | None = None
    finished_at: datetime | None = None
    authorized: int = 0
    captured: int = 0
    cancelled: int = 0
    refunded: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def amount(self, value: int | None = None) -> dict[str, Any]:
        return {"currency": self.currency, "value": self.value if value is None else value}

    def aggregate(self) -> dict[str, Any]:
        return {
            "authorizedAmount": self.amount(self.authorized),
            "cancelledAmount": self.amount(self.cancelled),
            "capturedAmount": self.amount(self.captured),
            "refundedAmount": self.amount(self.refunded),
        }

    def check_invariants(self) -> None:
        """captured + cancelled <= authorized; refunded <= captured; nothing is negative."""
        amounts = (self.authorized, self.captured, self.cancelled, self.refunded)
        ok = min(amounts) >= 0 and self.authorized in (0, self.value)
        if self.authorized == 0:  # before authorization only a cancel of the whole is possible
            ok = ok and self.captured == 0 and self.cancelled in (0, self.value)
        else:
            ok = ok and self.captured + self.cancelled <= self.authorized
        if not ok or self.refunded > self.captured:
            raise RuntimeError(f"aggregate invariant broken for {self.reference}: {amounts}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("created_at", "expires_at", "authorized_at", "finished_at"):
            moment = getattr(self, key)
            data[key] = moment.isoformat() if moment else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Payment:
        values = dict(data)
        for key in ("created_at", "expires_at", "authorized_at", "finished_at"):
            raw = values.get(key)
            values[key] = datetime.fromisoformat(raw) if raw else None
        return cls(**values)


@dataclass
class PaymentEvent:
    reference: str
    psp_reference: str
    name: str
    currency: str
    value: int
    timestamp: datetime
    idempotency_key: str | None
    success: bool = True

    def to_wire(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "pspReference": self.psp_reference,
            "name": self.name,
            "amount": {"currency": self.currency, "value": self.value},
            "timestamp": iso_z(self.timestamp),
            "idempotencyKey": self.idempotency_key,
            "success": self.success,
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PaymentEvent:
        values = dict(data)
        values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        return cls(**values)
