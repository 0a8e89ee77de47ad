"""The payment state machine and its money operations (docs/vipps.md#states-and-events).

States only move forward: CREATED -> AUTHORIZED | ABORTED | EXPIRED | TERMINATED. Capture,
cancel and refund after authorization move only the aggregate amounts. Which error a request
gets in which state is a table, not an `if` chain.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING

from payrequest.sandbox.faults import APPROVAL_MAGIC, REFUND_MAGIC, UNKNOWN_RESULT_AMOUNT
from payrequest.sandbox.model import Payment
from payrequest.sandbox.problems import ApiError
from payrequest.sandbox.profile import subject, words
from payrequest.sandbox.validation import CreateRequest

if TYPE_CHECKING:
    from payrequest.sandbox.emulator import Sandbox

STANDARD_LIFETIME = timedelta(minutes=10)
UNKNOWN_RESULT_HOLD = timedelta(hours=1)
CAPTURE_DEADLINE = {"NO": timedelta(days=180), "DK": timedelta(days=14), "FI": timedelta(days=14)}
REFUND_PERIOD = timedelta(days=365)

# state -> ErrorCode for an operation that state does not allow.
CAPTURE_REFUSED = {"CREATED": 6080, "ABORTED": 6200, "EXPIRED": 6200, "TERMINATED": 6200}
CANCEL_REFUSED = {"ABORTED": 6050, "EXPIRED": 6050, "TERMINATED": 6190}
REFUND_REFUSED = {"CREATED": 6020, "ABORTED": 6210, "EXPIRED": 6210, "TERMINATED": 6210}
APPROVE_REFUSED = {"AUTHORIZED": 6230, "ABORTED": 10010, "EXPIRED": 10010, "TERMINATED": 10010}


def create_payment(sb: Sandbox, msn: str, req: CreateRequest, idempotency_key: str) -> Payment:
    """A new payment of the sales unit `msn`."""
    now = sb.clock.now()
    nominal = (req.expires_at - now) if req.expires_at else STANDARD_LIFETIME
    payment = Payment(
        msn=msn,
        reference=req.reference,
        currency=req.currency,
        value=req.value,
        user_flow=req.user_flow,
        payment_method=req.payment_method,
        psp_reference=sb.new_uuid(),
        created_at=now,
        expires_at=now + sb.clock.scaled(nominal),
        redirect_token=secrets.token_urlsafe(24),
        phone=req.phone,
        description=req.description,
        receipt=req.receipt,
        metadata=req.metadata,
        return_url=req.return_url,
        qr_format=req.qr_format,
        qr_size=req.qr_size,
        long_living=req.expires_at is not None,
        profile_scope=req.profile_scope,
    )
    sb.store.save_payment(payment)
    sb.record(payment, "CREATED", payment.value, idempotency_key, psp=payment.psp_reference)
    return payment


def expire_if_due(sb: Sandbox, payment: Payment) -> Payment:
    if payment.state == "CREATED" and sb.clock.now() >= payment.expires_at:
        _finish(sb, payment, "EXPIRED")
    return payment


def approve(
    sb: Sandbox, payment: Payment, phone: str | None = None, *, consent: bool = False
) -> None:
    """The user approves in the app (or force approve). Magic amounts fail as in test.

    A payment that asks for profile information needs the user's consent first: given on the
    phone's consent screen (`share_profile`), or here with `consent=True` (force approve).
    """
    expire_if_due(sb, payment)
    refused = APPROVE_REFUSED.get(payment.state)
    if refused is not None:
        raise ApiError(refused, why=f"The payment is {payment.state}.")
    if payment.processing:
        raise ApiError(10010, why="The payment is being processed.")
    if phone and payment.phone is None:
        payment.phone = phone
    if payment.profile_scope and payment.profile_sub is None:
        if not consent:
            raise ApiError(10010, why="The user has not shared the information asked for.")
        share_profile(sb, payment)
    if sb.faults.magic_amounts and payment.value in APPROVAL_MAGIC:
        _decline(sb, payment)
    payment.state = "AUTHORIZED"
    payment.authorized = payment.value
    payment.authorized_at = sb.clock.now()
    payment.decline_reason = None
    _save(sb, payment, "AUTHORIZED", payment.value, None)


def _decline(sb: Sandbox, payment: Payment) -> None:
    reason = APPROVAL_MAGIC[payment.value]
    payment.decline_reason = reason
    if payment.value == UNKNOWN_RESULT_AMOUNT:
        payment.processing = True
        hold = sb.clock.now() + sb.clock.scaled(UNKNOWN_RESULT_HOLD)
        payment.expires_at = max(payment.expires_at, hold)
    sb.store.save_payment(payment)
    sb.changed()
    raise ApiError(10010, why=reason)


def share_profile(sb: Sandbox, payment: Payment) -> None:
    """The user agrees, on the consent screen, to share what the payment's scope asks for."""
    expire_if_due(sb, payment)
    if payment.state != "CREATED" or not payment.profile_scope:
        raise ApiError(10010, why="The payment asks for no information now.")
    if payment.phone is None:
        raise ApiError(10010, why="Who shares is unknown: give customer.phoneNumber.")
    sub = subject(sb.subject_key, payment.msn, payment.phone)
    sb.store.grant_consent(payment.msn, sub, payment.phone, words(payment.profile_scope))
    payment.profile_sub = sub
    sb.store.save_payment(payment)
    sb.changed()


def reject(sb: Sandbox, payment: Payment) -> None:
    """The user rejects in the app."""
    expire_if_due(sb, payment)
    if payment.state != "CREATED":
        raise ApiError(10010, why=f"The payment is {payment.state}.")
    _finish(sb, payment, "ABORTED")


def cancel(sb: Sandbox, payment: Payment, transaction_only: bool, key: str) -> None:
    expire_if_due(sb, payment)
    if payment.state in CANCEL_REFUSED:
        raise ApiError(CANCEL_REFUSED[payment.state], why=payment.state)
    if payment.state == "CREATED":
        if payment.processing:
            raise ApiError(6250)
        payment.cancelled = payment.value
        _finish(sb, payment, "TERMINATED", key)
        return
    if transaction_only:
        raise ApiError(6060)
    if _past(sb, payment, CAPTURE_DEADLINE[sb.unit(payment.msn).market]):
        raise ApiError(6030)
    remainder = payment.authorized - payment.captured - payment.cancelled
    if payment.captured == payment.authorized:
        raise ApiError(6040)
    if remainder == 0:
        return  # already cancelled: nothing left to release, nothing changes
    payment.cancelled += remainder
    _save(sb, payment, "CANCELLED", remainder, None)


def capture(sb: Sandbox, payment: Payment, currency: str, value: int, key: str) -> None:
    expire_if_due(sb, payment)
    if payment.state in CAPTURE_REFUSED:
        raise ApiError(CAPTURE_REFUSED[payment.state], why=payment.state)
    _check_currency(payment, currency, value)
    if payment.cancelled:
        raise ApiError(6070)
    if _past(sb, payment, CAPTURE_DEADLINE[sb.unit(payment.msn).market]):
        raise ApiError(6100)
    remainder = payment.authorized - payment.captured
    if remainder == 0:
        raise ApiError(6170)
    if value > remainder:
        raise ApiError(6090, why=f"{remainder} {payment.currency} minor units")
    if sb.situation(payment.msn).full_capture_only and value != payment.authorized:
        raise ApiError(6140)
    payment.captured += value
    _save(sb, payment, "CAPTURED", value, key)


def refund(sb: Sandbox, payment: Payment, currency: str, value: int, key: str) -> None:
    expire_if_due(sb, payment)
    if payment.state in REFUND_REFUSED:
        raise ApiError(REFUND_REFUSED[payment.state], why=payment.state)
    _check_currency(payment, currency, value)
    if sb.faults.magic_amounts and value in REFUND_MAGIC:
        code, reason = REFUND_MAGIC[value]
        raise ApiError(code, why=reason)
    if _past(sb, payment, REFUND_PERIOD):
        raise ApiError(6220)
    refundable = payment.captured - payment.refunded
    if payment.captured > 0 and refundable == 0:
        raise ApiError(6180)
    if value > refundable:
        raise ApiError(6150, why=f"{refundable} {payment.currency} minor units")
    payment.refunded += value
    _save(sb, payment, "REFUNDED", value, key)


def _check_currency(payment: Payment, currency: str, value: int) -> None:
    if currency != payment.currency:
        raise ApiError(4040, why=f"the payment is in {payment.currency}")
    if value <= 0:
        raise ApiError(4040, why="the value must be positive")


def _past(sb: Sandbox, payment: Payment, period: timedelta) -> bool:
    since = payment.authorized_at or payment.created_at
    return sb.clock.elapsed_nominal(since) > period


def _finish(sb: Sandbox, payment: Payment, state: str, key: str | None = None) -> None:
    payment.state = state
    payment.processing = False
    payment.finished_at = sb.clock.now()
    _save(sb, payment, state, payment.value, key)


def _save(sb: Sandbox, payment: Payment, name: str, value: int, key: str | None) -> None:
    payment.check_invariants()
    sb.store.save_payment(payment)
    sb.record(payment, name, value, key)
