"""Issuing and redeeming magic links, and the portal sign-in they open.

A link carries 256 random bits; only their SHA-256 is stored, so a database leak gives no
working link. Redeeming is one conditional UPDATE: a link works once, before it expires, and
only while no newer link of the same customer replaced it (issuing one revokes the older
unused ones). Opening a link only looks (`link_usable`); the customer's button redeems it
(`sign_in_with_link`), so link scanners and message previews cannot use it up. A redeemed
link starts a portal session kept on the server (`payrequest.sessions`), which signing out
ends for every copy of the cookie.

Organisations (db.scope): a link, a portal session and a payment reference are looked up
before anyone knows which business the request is for, so those lookups run in a session
scoped to `ALL`; the portal then acts for the customer's organisation only. The start page
asks for a link from one organisation: the one its URL names (`?org=<slug>`), else the
installation's first (`start_organisation`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.errors import NotFound, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.ids import random_token
from payrequest.kit.phone import parse_phone
from payrequest.organisations.models import SLUG_PATTERN, Organisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.portal.models import PortalLink
from payrequest.sessions import service as sign_ins
from payrequest.sessions.service import Started

LINK_LIFETIME = timedelta(minutes=60)
TOKEN_BYTES = 32  # 256 bits
CONTACT_MAX_LENGTH = 254  # the longest email address; no phone number is longer


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
    """A new link for the customer; their older links that are still unused stop working."""
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("No such customer")
    if not customer.portal_access:
        raise ValidationFailed("This customer does not have portal access")
    now = utcnow()
    await session.execute(
        update(PortalLink)
        .where(
            PortalLink.customer_id == customer_id,
            PortalLink.used_at.is_(None),
            PortalLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = random_token(TOKEN_BYTES)
    link = PortalLink(
        customer_id=customer_id,
        token_hash=token_hash(token),
        channel=channel,
        created_by_user_id=created_by_user_id,
        expires_at=now + lifetime,
        organisation_id=customer.organisation_id,
    )
    session.add(link)
    await session.flush()
    return IssuedLink(token, customer_id, link.id)


def _plausible(token: str) -> bool:
    return bool(token) and len(token) <= 200


def _usable(token: str, now: datetime) -> ColumnElement[bool]:
    return and_(
        PortalLink.token_hash == token_hash(token),
        PortalLink.used_at.is_(None),
        PortalLink.revoked_at.is_(None),
        PortalLink.expires_at > now,
    )


async def link_usable(session: AsyncSession, *, token: str) -> bool:
    """Whether the link would sign its customer in now (nothing is changed)."""
    if not _plausible(token):
        return False
    statement = (
        select(Customer.portal_access)
        .join(PortalLink, PortalLink.customer_id == Customer.id)
        .where(_usable(token, utcnow()))
    )
    return bool((await session.execute(statement)).scalar_one_or_none())


async def redeem_link(session: AsyncSession, *, token: str) -> int | None:
    """The customer id if the link is unused, unrevoked and unexpired (and marks it used),
    else None."""
    if not _plausible(token):
        return None
    now = utcnow()
    statement = (
        update(PortalLink)
        .where(_usable(token, now))
        .values(used_at=now)
        .returning(PortalLink.customer_id)
    )
    customer_id = (await session.execute(statement)).scalar_one_or_none()
    if customer_id is None:
        return None
    customer = await session.get(Customer, customer_id)
    if customer is None or not customer.portal_access:
        return None
    return customer_id if await _open_for_business(session, customer) else None


async def _open_for_business(session: AsyncSession, customer: Customer) -> bool:
    """A suspended organisation's portal is closed: its customers cannot sign in."""
    organisation = await session.get(Organisation, customer.organisation_id)
    return organisation is not None and organisation.status == "active"


@dataclass(frozen=True, slots=True)
class SignedIn:
    started: Started  # the portal session (its token goes into the cookie)
    customer_id: int
    organisation_id: int  # the customer's; the portal acts for it


async def sign_in_with_link(session: AsyncSession, *, token: str) -> SignedIn | None:
    """Redeem the link and start the customer's portal session, for the customer's
    organisation; None if the link is not usable (expired, used, replaced by a newer one, or
    the customer lost portal access). Reads the link by its token: a session scoped to `ALL`
    (or to the link's organisation)."""
    customer_id = await redeem_link(session, token=token)
    customer = await session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None:
        return None
    started = await sign_ins.start_portal(
        session, customer_id=customer.id, organisation_id=customer.organisation_id
    )
    return SignedIn(started, customer.id, customer.organisation_id)


async def signed_in_customer(session: AsyncSession, *, token: str) -> Customer | None:
    """The customer of a live portal session (not ended, not expired) who still has portal
    access; None otherwise."""
    if not _plausible(token):
        return None
    alive = await sign_ins.alive(session, token=token, kind="portal")
    if alive is None or alive.customer_id is None:
        return None
    customer = await session.get(Customer, alive.customer_id)
    if customer is None or not customer.portal_access:
        return None
    # The session was started for the customer's own organisation; anything else is not theirs.
    if customer.organisation_id != alive.organisation_id:
        return None
    return customer if await _open_for_business(session, customer) else None


async def sign_out(session: AsyncSession, *, token: str) -> None:
    """End the portal session this token opens, for every copy of the cookie."""
    if _plausible(token):
        await sign_ins.end(session, token=token)


def normalised_contact(contact: str) -> str:
    """One spelling per contact: a lower-cased email address, or a mobile number in E.164
    (`97540218`, `975 40 218` and `+47 975 40 218` are all `+4797540218`); anything else
    trimmed and lower-cased."""
    text = contact.strip()
    if "@" in text:
        return text.lower()
    try:
        return parse_phone(text).e164
    except ValidationFailed:
        return text.lower()


async def find_by_contact(session: AsyncSession, contact: str) -> tuple[Customer, str] | None:
    """A portal customer by the email or mobile number on file, and the channel it matched."""
    text = contact.strip()
    if not text or len(text) > CONTACT_MAX_LENGTH or "\x00" in text:
        return None  # no address on file looks like this
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


async def start_organisation(session: AsyncSession, slug: str | None) -> Organisation | None:
    """The organisation a start page asks for links from: the one `slug` names (None if there
    is no such organisation), or without a slug the installation's first (a single-business
    installation needs none)."""
    if not slug:
        first = select(Organisation).order_by(Organisation.id).limit(1)
        return (await session.execute(first)).scalar_one_or_none()
    if len(slug) > 40 or not re.fullmatch(SLUG_PATTERN, slug):
        return None
    named = select(Organisation).where(Organisation.slug == slug)
    return (await session.execute(named)).scalar_one_or_none()


async def slug_of(session: AsyncSession, organisation_id: int) -> str | None:
    organisation = await session.get(Organisation, organisation_id)
    return organisation.slug if organisation is not None else None


async def link_organisation(session: AsyncSession, *, token: str) -> int | None:
    """The organisation of the link with this token, used or not (for the start page shown
    in its place); needs a session scoped to `ALL`."""
    if not _plausible(token):
        return None
    statement = select(PortalLink.organisation_id).where(PortalLink.token_hash == token_hash(token))
    return (await session.execute(statement)).scalar_one_or_none()


async def payment_organisation(session: AsyncSession, *, reference: str) -> int | None:
    """The organisation of the payment request with this reference (the app sends the
    customer back with it); needs a session scoped to `ALL`."""
    if not reference or len(reference) > 64:
        return None
    statement = select(PaymentRequest.organisation_id).where(PaymentRequest.reference == reference)
    return (await session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class Business:
    """The business a customer's portal belongs to: what its pages show of it (its name,
    the accent colour of its header) and what it lets customers do there."""

    id: int
    name: str
    brand_colour: str | None  # `#1a6e4f`; None: the portal's own
    partial_payments: bool  # customers may pay part of what is open


async def business_of(session: AsyncSession, organisation_id: int) -> Business | None:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        return None
    return Business(
        id=organisation.id,
        name=organisation.name,
        brand_colour=organisation.brand_colour,
        partial_payments=organisation.portal_partial_payments,
    )
