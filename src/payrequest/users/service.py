"""Staff accounts: create, find, list, authenticate. (What people do with them, recorded in
the audit log, is in users.commands.)"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.db.scope import organisation_of
from payrequest.errors import Conflict, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.organisations import service as organisations
from payrequest.organisations.models import ROLES, Membership
from payrequest.users.members import Member
from payrequest.users.models import LOCALES, User
from payrequest.users.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password

# Verifying against this keeps the time of a login for an unknown email like that of a known one.
_DUMMY_HASH = hash_password("not-a-real-password-for-timing")
MAX_EMAIL = 254
MAX_NAME = 200


def _clean_email(email: str) -> str | None:
    """The email as stored (trimmed, lower case); None if it cannot be one (too long, NUL)."""
    email = email.strip().lower()
    if len(email) > MAX_EMAIL or "\x00" in email:
        return None
    return email


async def get(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def set_locale(session: AsyncSession, *, user_id: int, locale: str) -> None:
    """The language of the person's own pages (one of users.models.LOCALES)."""
    user = await session.get(User, user_id)
    if user is not None:
        user.locale = locale


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    cleaned = _clean_email(email)
    if cleaned is None:
        return None
    result = await session.execute(select(User).where(User.email == cleaned))
    return result.scalar_one_or_none()


async def list_users(session: AsyncSession) -> list[Member]:
    """The staff of the session's organisation, active first, then by role (owners first) and
    name."""
    organisation_id = organisation_of(session.sync_session)
    order = {role: index for index, role in enumerate(ROLES)}
    rows = await session.execute(
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.organisation_id == organisation_id)
    )
    found = [Member.of(user, membership) for user, membership in rows.tuples()]
    return sorted(found, key=lambda m: (not m.is_active, order.get(m.role, 9), m.name, m.id))


async def names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names of these accounts (for pages that show who did something)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.name).where(User.id.in_(wanted)))
    return {row.id: row.name for row in rows}


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str = "",
    role: str = "staff",
    locale: str = "nb",
    organisation_id: int | None = None,
    email_verified: bool = True,
) -> User:
    """A new person, with `role` in `organisation_id` (default: the session's organisation).
    `email_verified=False` for someone who has yet to prove the email is theirs (a sign-up,
    an invitation): they cannot sign in before."""
    cleaned = _clean_email(email)
    email = cleaned if cleaned is not None else email.strip().lower()[:MAX_EMAIL]
    if cleaned is None or "@" not in email:
        raise ValidationFailed("“%(email)s” is not an email address", field="email", email=email)
    name = name.replace("\x00", "").strip()
    if len(name) > MAX_NAME:
        raise ValidationFailed(
            "The name must be at most %(length)s characters", field="name", length=MAX_NAME
        )
    if role not in ROLES:
        raise ValidationFailed("Role must be one of %(roles)s", field="role", roles=ROLES)
    if locale not in LOCALES:
        raise ValidationFailed(
            "Language must be one of %(languages)s", field="locale", languages=LOCALES
        )
    if len(password) < MIN_LENGTH:
        raise ValidationFailed(
            "The password must be at least %(length)s characters",
            field="password",
            length=MIN_LENGTH,
        )
    if await get_by_email(session, email) is not None:
        raise Conflict("A user with email %(email)s already exists", field="email", email=email)
    user = User(
        email=email,
        name=name or email.split("@")[0],
        password_hash=hash_password(password),
        locale=locale,
        email_verified_at=utcnow() if email_verified else None,
    )
    session.add(user)
    await session.flush()
    await organisations.add_member(
        session,
        user_id=user.id,
        organisation_id=organisation_id or organisation_of(session.sync_session),
        role=role,
    )
    return user


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User | None:
    user = await get_by_email(session, email)
    if user is None or not user.is_active or user.email_verified_at is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    await session.flush()
    return user
