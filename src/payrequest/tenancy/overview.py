"""The operator's overview: every organisation of the installation at a glance.

Read in a session acting for every organisation (`scoped_to(ALL)`): who runs the installation
sees each business's size and recent activity, never its customers' details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.db.scope import ALL, UnscopedQuery, scope_of
from payrequest.kit.clock import utcnow
from payrequest.organisations import service as organisations
from payrequest.payment_requests.models import PaymentRequest

RECENT = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Row:
    """One organisation in the overview. `requests` and `paid` count the payment requests
    made in the last 30 days (`paid`: what was captured of them, per currency)."""

    id: int
    name: str
    slug: str
    market: str
    currency: str
    status: str
    members: int
    customers: int
    requests: int
    paid: dict[str, int]
    created_at: datetime

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"


async def overview(session: AsyncSession, *, now: datetime | None = None) -> list[Row]:
    """Every organisation, oldest first. The session must act for every organisation."""
    if scope_of(session.sync_session) is not ALL:
        raise UnscopedQuery("the operator's overview reads every organisation (scoped_to(ALL))")
    since = (now or utcnow()) - RECENT
    members = await organisations.member_counts(session)
    customers = {
        organisation_id: int(number)
        for organisation_id, number in await session.execute(
            select(Customer.organisation_id, func.count()).group_by(Customer.organisation_id)
        )
    }
    requests: dict[int, int] = {}
    paid: dict[int, dict[str, int]] = {}
    recent = await session.execute(
        select(
            PaymentRequest.organisation_id,
            PaymentRequest.currency,
            func.count(),
            func.coalesce(func.sum(PaymentRequest.captured_amount), 0),
        )
        .where(PaymentRequest.created_at >= since)
        .group_by(PaymentRequest.organisation_id, PaymentRequest.currency)
    )
    for organisation_id, currency, number, captured in recent:
        requests[organisation_id] = requests.get(organisation_id, 0) + int(number)
        if captured:
            paid.setdefault(organisation_id, {})[currency] = int(captured)
    return [
        Row(
            id=organisation.id,
            name=organisation.name,
            slug=organisation.slug,
            market=organisation.market,
            currency=organisation.currency,
            status=organisation.status,
            members=members.get(organisation.id, 0),
            customers=customers.get(organisation.id, 0),
            requests=requests.get(organisation.id, 0),
            paid=paid.get(organisation.id, {}),
            created_at=organisation.created_at,
        )
        for organisation in await organisations.list_all(session)
    ]
