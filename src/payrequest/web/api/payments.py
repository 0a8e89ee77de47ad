"""`/api/v1/payments`: the money payment requests captured, newest first (by when they were
made), each with where it went (allocations, and the reversals refunds made) and its refunds;
and one payment, also one recorded by staff (`mpay_...`), which allocations name too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from payrequest.errors import NotFound, ValidationFailed
from payrequest.ledger import read as ledger_read
from payrequest.ledger import repository as ledger
from payrequest.payment_requests import captured
from payrequest.public.ids import read_id
from payrequest.public.payment import (
    PaymentObject,
    captured_payment_object,
    manual_payment_object,
)
from payrequest.public.refund import RefundObject, refund_object
from payrequest.web.api.caller import CallerDep
from payrequest.web.api.lists import CursorDep, ListObject
from payrequest.web.api.route import api_router
from payrequest.web.deps import AsyncSession, ReadSessionDep

router = api_router(tags=["Payments"])


class Payment(PaymentObject):
    """A payment with its refunds (a payment staff recorded has none: they undo it instead)."""

    refunds: list[RefundObject] = Field(description="Oldest first, of every status.")


class PaymentList(ListObject[Payment]):
    pass


def _payment(found: captured.Captured) -> Payment:
    shown = captured_payment_object(found.request, found.allocations, found.credit)
    return Payment(**dict(shown), refunds=[refund_object(r) for r in found.refunds])


@router.get("/payments", response_model=PaymentList, summary="List payments")
async def list_payments(
    caller: CallerDep,
    session: ReadSessionDep,
    cursor: CursorDep,
    created_gte: Annotated[
        datetime | None,
        Query(description="Only those made at or after this moment (RFC 3339)."),
    ] = None,
    created_lt: Annotated[
        datetime | None, Query(description="Only those made before this moment (RFC 3339).")
    ] = None,
) -> PaymentList:
    """The money the organisation's payment requests captured, newest first."""
    for name, moment in (("created_gte", created_gte), ("created_lt", created_lt)):
        if moment is not None and moment.utcoffset() is None:
            raise ValidationFailed("Give the moment with its offset (`Z` or `+01:00`)", field=name)
    rows = await captured.newest_first(
        session,
        limit=cursor.fetch,
        before_id=cursor.before("payment"),
        since=created_gte,
        until=created_lt,
    )
    shown, more = cursor.page(rows)
    return PaymentList(data=[_payment(row) for row in shown], has_more=more)


@router.get("/payments/{payment_id}", response_model=Payment, summary="Get a payment")
async def get_payment(
    caller: CallerDep,
    session: ReadSessionDep,
    payment_id: Annotated[
        str, Path(description="The payment's id (`pay_...`, or `mpay_...`).", max_length=40)
    ],
) -> Payment:
    found = read_id(payment_id)
    if found is not None and found[0] == "payment":
        row = await captured.one(session, found[1])
        if row is not None:
            return _payment(row)
    if found is not None and found[0] == "manual_payment":
        manual = await _manual(session, found[1])
        if manual is not None:
            return manual
    raise NotFound("No object has the id %(id)s", id=payment_id)


async def _manual(session: AsyncSession, payment_id: int) -> Payment | None:
    payments = await ledger_read.manual_payments_by_id(session, [payment_id])
    payment = payments.get(payment_id)
    if payment is None:
        return None
    shown = manual_payment_object(
        payment,
        await ledger.allocations_for_manual_payment(session, payment_id),
        await ledger.credit_for_manual_payment(session, payment_id),
    )
    return Payment(**dict(shown), refunds=[])
