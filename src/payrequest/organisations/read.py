"""What the staff pages show of organisations: the ones a person may switch between (the
header) and an organisation's profile (the Settings page)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.organisations import service as organisations


@dataclass(frozen=True, slots=True)
class Choice:
    """An organisation the person is an active member of, as the header's switcher lists it."""

    id: int
    name: str
    role: str  # the person's role there


async def choices(session: AsyncSession, user_id: int) -> list[Choice]:
    """The organisations the person is an active member of and may work in (not suspended),
    oldest first."""
    return [
        Choice(organisation.id, organisation.name, membership.role)
        for membership, organisation in await organisations.memberships_of(session, user_id)
        if organisation.status == "active"
    ]


@dataclass(frozen=True, slots=True)
class Profile:
    """An organisation as its receipts name it, the settings fixed when it was made, and
    those its owner may change (organisations.profile)."""

    id: int
    name: str
    organisation_number: str
    address: str
    market: str
    currency: str
    default_locale: str
    request_lifetime_minutes: int
    long_living_approved: bool
    portal_partial_payments: bool
    auto_apply_credit: bool
    sms_sender: str | None  # None: the installation's
    brand_colour: str | None


async def profile(session: AsyncSession, organisation_id: int) -> Profile:
    """The organisation's profile; NotFound if there is no such organisation."""
    found = await organisations.get(session, organisation_id)
    return Profile(
        id=found.id,
        name=found.name,
        organisation_number=found.organisation_number,
        address=found.address,
        market=found.market,
        currency=found.currency,
        default_locale=found.default_locale,
        request_lifetime_minutes=found.request_lifetime_minutes,
        long_living_approved=found.long_living_approved,
        portal_partial_payments=found.portal_partial_payments,
        auto_apply_credit=found.auto_apply_credit,
        sms_sender=found.sms_sender,
        brand_colour=found.brand_colour,
    )
