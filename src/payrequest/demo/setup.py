"""What `payrequest demo` does before serving: seed data and make sure someone can sign in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.automations import service as flows
from payrequest.config import BusinessSettings, Settings
from payrequest.connections import service as connections
from payrequest.connections.service import NewConnection
from payrequest.db.scope import ALL, scoped_to
from payrequest.demo.seed import DANISH, SeedSummary, seed_demo
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.kit.ids import random_token
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Organisation
from payrequest.users import service as users
from payrequest.users.models import User

DEFAULT_ADMIN_EMAIL = "admin@payrequest.local"
DANISH_SLUG = "demo-dk"
# The demo's second business: Danish, with a Danish sales unit of its own at the emulator.
DANISH_BUSINESS = organisations.NewOrganisation(
    name="Payrequest Demo ApS",
    slug=DANISH_SLUG,
    market="DK",
    default_locale="da",
    organisation_number="DK 12 34 56 78",
    address="Vesterbrogade 1, 1620 København V",
)
# The seller the demo's receipts name, unless PAYREQUEST_BUSINESS__NAME says otherwise.
DEMO_BUSINESS = BusinessSettings(
    name="Payrequest Demo AS",
    organisation_number="999 888 777 MVA",
    address="Storgata 1, 0155 Oslo",
)


@dataclass(frozen=True, slots=True)
class DemoReady:
    seed: SeedSummary
    admin_email: str
    generated_password: str | None  # shown once, only when we made it up
    admin_created: bool


async def prepare_demo(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    danish_accounts: Sequence[NewConnection] = (),
    box: SecretBox | None = None,
) -> DemoReady:
    """The first organisation (named after the settings' business, paying through the
    installation's sales unit) with its demo data; with `danish_accounts`, a second, Danish
    business connected to those accounts of its own, with its own customers in DKK; and an
    owner of both who can sign in (and switch between them)."""
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        first = await organisations.ensure_first(session, settings)
        _name_after_settings(first, settings.business)
        first_id = first.id
        danish_id = None
        if danish_accounts:
            danish = await organisations.by_slug(session, DANISH_SLUG)
            if danish is None:
                danish = await organisations.create(session, DANISH_BUSINESS)
            danish_id = danish.id
    async with sessions(info=scoped_to(first_id)) as session, session.begin():
        seed = await seed_demo(session, today=utcnow().date())
        admin, generated, created = await _admin(session, settings)
        admin_email = admin.email
        if box is not None:  # the reminder ladder, switched off: Automations → switch it on
            await flows.add_ladder(session, language=settings.default_locale, box=box)
    if danish_id is not None and box is not None:
        async with sessions(info=scoped_to(danish_id)) as session, session.begin():
            await seed_demo(session, today=utcnow().date(), business=DANISH)
            for account in danish_accounts:
                if await connections.current(session, account.provider) is None:
                    await connections.connect(session, account, box=box)
            await organisations.add_member(
                session, user_id=admin.id, organisation_id=danish_id, role="owner"
            )
            await flows.add_ladder(session, language="da", box=box)
    return DemoReady(seed, admin_email, generated, admin_created=created)


async def _admin(session: AsyncSession, settings: Settings) -> tuple[User, str | None, bool]:
    """The demo's owner (and operator): (the person, a password made up for them, created)."""
    email = (settings.admin_email or DEFAULT_ADMIN_EMAIL).strip().lower()
    existing = await users.get_by_email(session, email)
    if existing is not None:
        return existing, None, False
    generated = None
    if settings.admin_password is not None:
        password = settings.admin_password.get_secret_value()
    else:
        generated = password = random_token(12)
    admin = await users.create_user(
        session, email=email, password=password, name="Admin", role="owner"
    )
    admin.is_operator = True  # the demo's admin runs the installation too
    return admin, generated, True


def _name_after_settings(organisation: Organisation, business: BusinessSettings) -> None:
    """A first organisation still named as the migration left it takes the business of the
    settings (the demo's own unless PAYREQUEST_BUSINESS__NAME says otherwise)."""
    if organisation.name == organisations.UNNAMED and business.name:
        organisation.name = business.name
        organisation.organisation_number = business.organisation_number
        organisation.address = business.address
