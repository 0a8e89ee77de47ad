"""What `payrequest demo` does before serving: seed data and make sure someone can sign in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.config import BusinessSettings, Settings
from payrequest.db.scope import ALL, scoped_to
from payrequest.demo.seed import SeedSummary, seed_demo
from payrequest.kit.clock import utcnow
from payrequest.kit.ids import random_token
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Organisation
from payrequest.users import service as users

DEFAULT_ADMIN_EMAIL = "admin@payrequest.local"
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
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> DemoReady:
    """The first organisation (named after the settings' business), its demo data, and an
    owner who can sign in to it."""
    async with sessions(info=scoped_to(ALL)) as session, session.begin():
        first = await organisations.ensure_first(session, settings)
        _name_after_settings(first, settings.business)
        organisation_id = first.id
    async with sessions(info=scoped_to(organisation_id)) as session, session.begin():
        seed = await seed_demo(session, today=utcnow().date())
        email = (settings.admin_email or DEFAULT_ADMIN_EMAIL).strip().lower()
        if await users.get_by_email(session, email) is not None:
            return DemoReady(seed, email, None, admin_created=False)
        generated = None
        if settings.admin_password is not None:
            password = settings.admin_password.get_secret_value()
        else:
            generated = password = random_token(12)
        admin = await users.create_user(
            session, email=email, password=password, name="Admin", role="owner"
        )
        admin.is_operator = True  # the demo's admin runs the installation too
        return DemoReady(seed, email, generated, admin_created=True)


def _name_after_settings(organisation: Organisation, business: BusinessSettings) -> None:
    """A first organisation still named as the migration left it takes the business of the
    settings (the demo's own unless PAYREQUEST_BUSINESS__NAME says otherwise)."""
    if organisation.name == organisations.UNNAMED and business.name:
        organisation.name = business.name
        organisation.organisation_number = business.organisation_number
        organisation.address = business.address
