"""Issuing and redeeming magic links.

A link carries 256 random bits; only their SHA-256 is stored, so a database leak gives no
working link. Redeeming is one conditional UPDATE: a link works once, before it expires.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.errors import NotFound, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.ids import random_token
from payrequest.kit.phone import parse_phone
from payrequest.portal.models import PortalLink

LINK_LIFETIME = timedelta(minutes=60)
TOKEN_BYTES = 32  # 256 bits


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedLink:
    token: str  # goes into the message; never stored
    customer_id: int
    link_id: int


async def issue_link(
    session: AsyncSession,
    *,
    customer_id: int,
    channel: str,
    created_by_user_id: int | None = None,
    lifetime: timedelta = LINK_LIFETIME,
) -> IssuedLink:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    if not customer.portal_access:
        raise ValidationFailed("This customer does not have portal access")
    token = random_token(TOKEN_BYTES)
    link = PortalLink(
        customer_id=customer_id,
        token_hash=token_hash(token),
        channel=channel,
        created_by_user_id=created_by_user_id,
        expires_at=utcnow() + lifetime,
    )
    session.add(link)
    await session.flush()
    return IssuedLink(token, customer_id, link.id)


async def redeem_link(session: AsyncSession, *, token: str) -> int | None:
    """The customer id if the link is unused and unexpired (and marks it used), else None."""
    if not token or len(token) > 200:
        return None
    now = utcnow()
    statement = (
        update(PortalLink)
        .where(
            PortalLink.token_hash == token_hash(token),
            PortalLink.used_at.is_(None),
            PortalLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(PortalLink.customer_id)
    )
    customer_id = (await session.execute(statement)).scalar_one_or_none()
    if customer_id is None:
        return None
    customer = await session.get(Customer, customer_id)
    return customer_id if customer is not None and customer.portal_access else None


async def find_by_contact(session: AsyncSession, contact: str) -> tuple[Customer, str] | None:
    """A portal customer by the email or mobile number on file, and the channel it matched."""
    text = contact.strip()
    if "@" in text:
        stmt = select(Customer).where(func.lower(Customer.email) == text.lower())
        channel = "email"
    else:
        try:
            phone = parse_phone(text)
        except ValidationFailed:
            return None
        stmt = select(Customer).where(Customer.phone == phone.e164)
        channel = "sms"
    stmt = stmt.where(Customer.portal_access.is_(True)).order_by(Customer.id)
    customer = (await session.execute(stmt)).scalars().first()
    return (customer, channel) if customer is not None else None
