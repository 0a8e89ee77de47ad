"""Organisations and memberships: create, find, list; the first organisation from settings."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.config import Settings
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.organisations.models import (
    LOCALES,
    MARKETS,
    ROLES,
    SLUG_PATTERN,
    Membership,
    Organisation,
)

MAX_NAME = 100
UNNAMED = "My business"  # the first organisation's name when the settings give none


@dataclass(frozen=True)
class NewOrganisation:
    name: str
    slug: str
    market: str = "NO"
    default_locale: str | None = None  # None: the market's language
    organisation_number: str = ""
    address: str = ""


MARKET_LOCALE = {"NO": "nb", "DK": "da", "FI": "en"}


def slugify(name: str) -> str:
    """`Fjord Rør AS` -> `fjord-ror-as`: lower case ASCII letters, digits and hyphens."""
    folded = name.replace("ø", "o").replace("Ø", "o").replace("æ", "ae").replace("Æ", "ae")
    ascii_only = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    return slug[:40].rstrip("-") or "business"


def _check(data: NewOrganisation) -> None:
    name = data.name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationFailed("Name must be 1 to %(max)s characters", field="name", max=MAX_NAME)
    if not re.fullmatch(SLUG_PATTERN, data.slug):
        raise ValidationFailed(
            "Short name may have lower-case letters, digits and hyphens (at most 40)",
            field="slug",
        )
    if data.market not in MARKETS:
        raise ValidationFailed("Market must be one of %(markets)s", field="market", markets=MARKETS)
    if data.default_locale is not None and data.default_locale not in LOCALES:
        raise ValidationFailed(
            "Language must be one of %(languages)s", field="default_locale", languages=LOCALES
        )


async def create(session: AsyncSession, data: NewOrganisation) -> Organisation:
    """A new organisation; Conflict if the slug is taken."""
    _check(data)
    if await by_slug(session, data.slug) is not None:
        raise Conflict("The short name %(slug)s is taken", slug=data.slug)
    organisation = Organisation(
        name=data.name.strip(),
        slug=data.slug,
        market=data.market,
        default_locale=data.default_locale or MARKET_LOCALE[data.market],
        organisation_number=data.organisation_number.strip(),
        address=data.address.strip(),
        status="active",
    )
    session.add(organisation)
    await session.flush()
    return organisation


async def by_slug(session: AsyncSession, slug: str) -> Organisation | None:
    found = await session.scalars(select(Organisation).where(Organisation.slug == slug))
    return found.one_or_none()


async def find(session: AsyncSession, organisation_id: int) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def get(session: AsyncSession, organisation_id: int) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("Organisation %(id)s does not exist", id=organisation_id)
    return organisation


async def list_all(session: AsyncSession) -> list[Organisation]:
    return list(await session.scalars(select(Organisation).order_by(Organisation.id)))


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Organisation)) or 0)


async def ensure_first(session: AsyncSession, settings: Settings) -> Organisation:
    """The installation's first organisation, created from the settings (PAYREQUEST_BUSINESS__*,
    the market, lifetime and portal settings) if there is none yet; else the oldest one."""
    existing = await session.scalar(select(Organisation).order_by(Organisation.id).limit(1))
    if existing is not None:
        return existing
    name = settings.business.name or UNNAMED
    organisation = Organisation(
        name=name,
        slug=slugify(name),
        market=settings.vipps.market,
        default_locale=settings.default_locale,
        organisation_number=settings.business.organisation_number,
        address=settings.business.address,
        request_lifetime_minutes=settings.vipps.default_lifetime_minutes,
        long_living_approved=settings.vipps.long_living_approved,
        portal_partial_payments=settings.portal.partial_payments,
        auto_apply_credit=settings.ledger.auto_apply_credit,
        status="active",
    )
    session.add(organisation)
    await session.flush()
    return organisation


# --- memberships ------------------------------------------------------------------------


async def membership(
    session: AsyncSession, *, user_id: int, organisation_id: int
) -> Membership | None:
    found = await session.scalars(
        select(Membership).where(
            Membership.user_id == user_id, Membership.organisation_id == organisation_id
        )
    )
    return found.one_or_none()


async def memberships_of(
    session: AsyncSession, user_id: int
) -> list[tuple[Membership, Organisation]]:
    """The person's active memberships with their organisations: active organisations first
    (a suspended one is where nobody can work), then oldest first."""
    rows = await session.execute(
        select(Membership, Organisation)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user_id, Membership.is_active.is_(True))
        .order_by(Organisation.status != "active", Organisation.id)
    )
    return [(m, o) for m, o in rows.tuples()]


async def add_member(
    session: AsyncSession, *, user_id: int, organisation_id: int, role: str
) -> Membership:
    """Give a person a role in an organisation (or change it, and reactivate them)."""
    if role not in ROLES:
        raise ValidationFailed("Role must be one of %(roles)s", field="role", roles=ROLES)
    existing = await membership(session, user_id=user_id, organisation_id=organisation_id)
    if existing is not None:
        existing.role, existing.is_active = role, True
        return existing
    created = Membership(
        user_id=user_id, organisation_id=organisation_id, role=role, is_active=True
    )
    session.add(created)
    await session.flush()
    return created


# --- choosing one (the command line's `--org`) ---------------------------------------------


async def slugs(session: AsyncSession) -> list[str]:
    """Every organisation's short name, oldest organisation first."""
    return list(await session.scalars(select(Organisation.slug).order_by(Organisation.id)))


async def chosen(session: AsyncSession, slug: str | None) -> Organisation:
    """The organisation named by its short name, or, when none is named, the only one there
    is. NotFound (code `unknown_organisation`) for a short name no organisation has, or when
    there is no organisation at all; ValidationFailed (code `organisation_needed`) when none
    is named and there are several. Each names the short names there are."""
    if slug is not None:
        found = await by_slug(session, slug.strip().lower())
        if found is None:
            raise NotFound(
                "No organisation has the short name %(slug)s; there are: %(slugs)s",
                code="unknown_organisation",
                field="org",
                slug=slug,
                slugs=await slugs(session),
            )
        return found
    everyone = await list_all(session)
    if len(everyone) == 1:
        return everyone[0]
    if not everyone:
        raise NotFound("There is no organisation yet", code="unknown_organisation", field="org")
    raise ValidationFailed(
        "Several organisations exist; say which: %(slugs)s",
        code="organisation_needed",
        field="org",
        slugs=[o.slug for o in everyone],
    )


async def member_counts(session: AsyncSession) -> dict[int, int]:
    """The number of active members of each organisation (by id; none: absent)."""
    rows = await session.execute(
        select(Membership.organisation_id, func.count())
        .where(Membership.is_active.is_(True))
        .group_by(Membership.organisation_id)
    )
    return {organisation_id: int(number) for organisation_id, number in rows}
