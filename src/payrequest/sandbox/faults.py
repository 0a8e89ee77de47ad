"""Fault switches: what can go wrong on purpose, settable by API (`/faults`) and CLI flags.

All randomness comes from one seedable `random.Random` owned by the emulator, so a test that
sets a seed sees the same sequence of faults every run.

Besides faults of the network and the API, the switches hold the sales unit's situation at
Vipps MobilePay (docs/vipps.md#the-emulators-switches): what it is approved for and how it is
set up. The emulator is the merchant's truth here, not payrequest's settings; the defaults are
the demo's sales unit (approved for long-living payments and PUSH_MESSAGE, partial captures
allowed, bank account verified).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Rate = Annotated[float, Field(ge=0.0, le=1.0)]

# Payment amounts (minor units) whose approval fails in the real test environment
# (docs/vipps.md#the-test-environment) -> reason shown to the user and put in the force-approve
# error.
APPROVAL_MAGIC: dict[int, str] = {
    151: "Insufficient funds",
    182: "Refused by issuer",
    183: "Suspected fraud",
    184: "Withdrawal limit exceeded",
    186: "Expired card",
    187: "Invalid card",
    197: "3-D Secure denied",
    201: "Unknown result: the payment stays processing for 1 hour",
    202: "Strong customer authentication required",
}
UNKNOWN_RESULT_AMOUNT = 201

# Refund amounts that fail in the test environment -> (ErrorCode, reason).
REFUND_MAGIC: dict[int, tuple[int, str]] = {
    123: (5100, "The user has been deleted or has no account to receive the refund."),
    124: (6220, "The refund period has expired."),
}


class Faults(BaseModel):
    """Current fault switches. Rates are probabilities per request or per webhook."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: Annotated[int, Field(ge=0, le=120_000)] = 0
    error_rate: Rate = 0.0  # share of API calls answered with a 5xx (before doing anything)
    rate_limit_rate: Rate = 0.0  # share of API calls answered 429 (before doing anything)
    timeout_rate: Rate = 0.0  # share of API calls that do the work but never answer in time
    timeout_mode: Literal["hang", "close"] = "hang"
    hang_seconds: Annotated[float, Field(ge=0.0, le=600.0)] = 15.0
    webhook_drop_rate: Rate = 0.0  # events never delivered
    webhook_duplicate_rate: Rate = 0.0  # events delivered twice
    webhook_reorder_rate: Rate = 0.0  # a held-back event overtaken by the next one
    magic_amounts: bool = True  # approval/refund failures for the test-environment amounts
    rate_limits: bool = True  # per-reference limits (docs/vipps.md#rate-limits-and-polling)
    clock_speed: Annotated[float, Field(gt=0.0, le=100_000.0)] = 1.0
    # How long a capture, refund or cancel keeps its payment locked while it is processed;
    # another change of that payment meanwhile is 423 with 6160. Read again while it waits,
    # so setting it to 0 lets a held operation finish at once.
    operation_hold_ms: Annotated[int, Field(ge=0, le=600_000)] = 0
    # The sales unit's situation (create: 5050, 5080, 5060; capture: 6140).
    long_living_approved: bool = True  # may use expiresAt
    push_message_approved: bool = True  # may use userFlow PUSH_MESSAGE
    full_capture_only: bool = False  # a capture must take the whole authorized amount
    bank_account_verified: bool = True  # may receive payments at all


SALES_UNIT_SWITCHES = (
    "long_living_approved",
    "push_message_approved",
    "full_capture_only",
    "bank_account_verified",
)


class FaultsPatch(BaseModel):
    """A partial update: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: Annotated[int, Field(ge=0, le=120_000)] | None = None
    error_rate: Rate | None = None
    rate_limit_rate: Rate | None = None
    timeout_rate: Rate | None = None
    timeout_mode: Literal["hang", "close"] | None = None
    hang_seconds: Annotated[float, Field(ge=0.0, le=600.0)] | None = None
    webhook_drop_rate: Rate | None = None
    webhook_duplicate_rate: Rate | None = None
    webhook_reorder_rate: Rate | None = None
    magic_amounts: bool | None = None
    rate_limits: bool | None = None
    clock_speed: Annotated[float, Field(gt=0.0, le=100_000.0)] | None = None
    operation_hold_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None
    long_living_approved: bool | None = None
    push_message_approved: bool | None = None
    full_capture_only: bool | None = None
    bank_account_verified: bool | None = None

    def apply_to(self, current: Faults) -> Faults:
        changes = self.model_dump(exclude_none=True)
        return current.model_copy(update=changes)


class Situation(BaseModel):
    """One sales unit's situation (the sales-unit switches above, for any unit)."""

    model_config = ConfigDict(extra="forbid")

    long_living_approved: bool = True
    push_message_approved: bool = True
    full_capture_only: bool = False
    bank_account_verified: bool = True


class SituationPatch(BaseModel):
    """A partial update of a unit's situation: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    long_living_approved: bool | None = None
    push_message_approved: bool | None = None
    full_capture_only: bool | None = None
    bank_account_verified: bool | None = None
