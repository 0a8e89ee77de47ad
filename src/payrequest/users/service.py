"""Staff accounts: create, authenticate."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import Conflict, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.users.models import LOCALES, ROLES, User
from payrequest.users.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password

# Verifying against this keeps the time of a login for an unknown email like that of a known one.
_DUMMY_HASH = hash_password("not-a-real-password-for-timing")


async def get_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    name: str = "",
    role: str = "staff",
    locale: str = "nb",
) -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise ValidationFailed("“%(email)s” is not an email address", field="email", email=email)
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
        role=role,
        locale=locale,
    )
    session.add(user)
    await session.flush()
    return user


async def authenticate(session: AsyncSession, *, email: str, password: str) -> User | None:
    user = await get_by_email(session, email)
    if user is None or not user.is_active:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    await session.flush()
    return user
