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
    """An organisation as its receipts name it, and the settings fixed when it was made."""

    id: int
    name: str
    organisation_number: str
    address: str
    market: str
    currency: str
    default_locale: str


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
    )
