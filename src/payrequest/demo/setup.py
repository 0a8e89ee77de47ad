"""What `payrequest demo` does before serving: seed data and make sure someone can sign in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.config import BusinessSettings, Settings
from payrequest.demo.seed import SeedSummary, seed_demo
from payrequest.kit.clock import utcnow
from payrequest.kit.ids import random_token
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


async def prepare_demo(session: AsyncSession, settings: Settings) -> DemoReady:
    seed = await seed_demo(session, today=utcnow().date())
    email = (settings.admin_email or DEFAULT_ADMIN_EMAIL).strip().lower()
    if await users.get_by_email(session, email) is not None:
        return DemoReady(seed, email, None, admin_created=False)
    generated = None
    if settings.admin_password is not None:
        password = settings.admin_password.get_secret_value()
    else:
        generated = password = random_token(12)
    await users.create_user(session, email=email, password=password, name="Admin", role="owner")
    return DemoReady(seed, email, generated, admin_created=True)
