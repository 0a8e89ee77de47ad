"""What can be done to staff accounts, by the admin pages and the command line alike: sign
in and out, change or reset a password, and (owners) invite, deactivate, reactivate and
change roles. Each records itself in the audit log. Service functions: session first,
never commit; emails are sent by the caller after the commit (users.mail).

Sessions (sessions.service) end with the account's reason: a password set ends every other
session of the account, a deactivation all of them, so a copied cookie stops working.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.kit.ids import random_token
from payrequest.sessions import service as sessions
from payrequest.users import service as users
from payrequest.users import tokens
from payrequest.users.models import ROLES, User
from payrequest.users.passwords import MIN_LENGTH, hash_password, verify_password

MAX_PASSWORD = 1024  # longer input is refused before it is hashed


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a signed-in staff member (over HTTP, from an address) or the command line."""

    user_id: int | None
    address: str | None = None
    session_id: int | None = None  # the sign-in session acting, kept on a password change


COMMAND_LINE = Actor(user_id=None)


@dataclass(frozen=True, slots=True)
class SignedIn:
    user: User
    token: str  # for the cookie; never stored
    session_id: int


async def sign_in(
    session: AsyncSession, *, email: str, password: str, address: str | None
) -> SignedIn | None:
    """A live session for the right email and password of an active account; None otherwise.
    Both outcomes are recorded (the email as typed on a failure, never the password)."""
    user = await users.authenticate(session, email=email, password=_bounded(password))
    if user is None:
        await audit.record(
            session,
            action="sign_in.failed",
            details={"email": email.strip().lower()},
            address=address,
        )
        return None
    started = await sessions.start_staff(session, user_id=user.id)
    await audit.record(session, action="sign_in.succeeded", user_id=user.id, address=address)
    return SignedIn(user=user, token=started.token, session_id=started.session_id)


async def sign_out(session: AsyncSession, *, token: str, actor: Actor) -> None:
    await sessions.end(session, token=token, reason="signed_out")
    if actor.user_id is not None:
        await audit.record(session, action="sign_out", user_id=actor.user_id, address=actor.address)


async def change_password(
    session: AsyncSession, actor: Actor, *, current: str, new: str, repeated: str
) -> User:
    """A signed-in member's own password: the current one must be right; every other session
    of the account ends (the one acting stays signed in)."""
    user = await _get(session, actor.user_id)
    if not verify_password(user.password_hash, _bounded(current)):
        raise ValidationFailed("The current password is wrong", field="current")
    await _set_password(session, user, new, repeated, keep_session_id=actor.session_id)
    await audit.record(
        session,
        action="password.change",
        user_id=user.id,
        subject_type="user",
        subject_id=user.id,
        address=actor.address,
    )
    return user


async def check_link(session: AsyncSession, *, key: str, token: str) -> User:
    """The active account a reset or invitation link is for, while the link is unused and
    young enough; ValidationFailed otherwise (one answer for every reason)."""
    try:
        claim = tokens.read(key, token)
    except (tokens.TokenExpired, tokens.TokenInvalid):
        raise _dead_link() from None
    user = await session.get(User, claim.user_id)
    if user is None or not user.is_active or not claim.matches(user):
        raise _dead_link()
    return user


async def set_password_by_link(
    session: AsyncSession, *, key: str, token: str, new: str, repeated: str, address: str | None
) -> User:
    """Set the password a reset or invitation link allows; the link is then used up (the
    hash it was made for is gone) and every session of the account ends."""
    user = await check_link(session, key=key, token=token)
    await _set_password(session, user, new, repeated, keep_session_id=None)
    await audit.record(
        session,
        action="password.reset",
        user_id=user.id,
        subject_type="user",
        subject_id=user.id,
        address=address,
    )
    return user


async def reset_link(
    session: AsyncSession,
    actor: Actor,
    *,
    key: str,
    email: str | None = None,
    user_id: int | None = None,
) -> tuple[User, str] | None:
    """A reset link's token for an active account, by email (the sign-in page's "forgot your
    password", None for an unknown address) or by id (an owner's "send a reset": NotFound)."""
    if user_id is not None:
        user: User | None = await _get(session, user_id)
    else:
        user = await users.get_by_email(session, (email or "")[: users.MAX_EMAIL])
    if user is None or not user.is_active:
        if user_id is not None:
            raise Conflict("%(email)s is deactivated", email=user.email if user else "")
        return None
    await audit.record(
        session,
        action="password.reset_sent",
        user_id=actor.user_id,
        subject_type="user",
        subject_id=user.id,
        address=actor.address,
    )
    return user, tokens.make(key, user, tokens.RESET)


async def invite(
    session: AsyncSession,
    actor: Actor,
    *,
    key: str,
    email: str,
    name: str = "",
    role: str = "staff",
    locale: str = "nb",
) -> tuple[User, str]:
    """A new account with no usable password, and its invitation link's token."""
    user = await users.create_user(
        session, email=email, password=random_token(32), name=name, role=role, locale=locale
    )
    await audit.record(
        session,
        action="staff.invite",
        user_id=actor.user_id,
        subject_type="user",
        subject_id=user.id,
        details={"email": user.email, "role": role},
        address=actor.address,
    )
    return user, tokens.make(key, user, tokens.INVITE)


async def invitation_link(
    session: AsyncSession, actor: Actor, *, key: str, user_id: int
) -> tuple[User, str]:
    """A fresh invitation token for an account (an owner sends it again)."""
    user = await _get(session, user_id)
    return user, tokens.make(key, user, tokens.INVITE)


async def deactivate(session: AsyncSession, actor: Actor, *, user_id: int) -> User:
    """The account can no longer sign in; every session of it ends at once."""
    user = await _locked(session, user_id)
    if user.is_active and user.role == "owner":
        await _keep_an_owner(session, leaving=user)
    if user.is_active:
        user.is_active = False
        await sessions.end_for_user(session, user_id=user.id, reason="deactivated")
        await audit.record(
            session,
            action="staff.deactivate",
            user_id=actor.user_id,
            subject_type="user",
            subject_id=user.id,
            details={"email": user.email},
            address=actor.address,
        )
    await session.flush()
    return user


async def reactivate(session: AsyncSession, actor: Actor, *, user_id: int) -> User:
    user = await _get(session, user_id)
    if not user.is_active:
        user.is_active = True
        await audit.record(
            session,
            action="staff.reactivate",
            user_id=actor.user_id,
            subject_type="user",
            subject_id=user.id,
            details={"email": user.email},
            address=actor.address,
        )
    await session.flush()
    return user


async def set_role(session: AsyncSession, actor: Actor, *, user_id: int, role: str) -> User:
    if role not in ROLES:
        raise ValidationFailed("Role must be one of %(roles)s", field="role", roles=ROLES)
    user = await _locked(session, user_id)
    if user.role == role:
        return user
    if user.role == "owner" and user.is_active:
        await _keep_an_owner(session, leaving=user)
    before, user.role = user.role, role
    await audit.record(
        session,
        action="staff.set_role",
        user_id=actor.user_id,
        subject_type="user",
        subject_id=user.id,
        details={"email": user.email, "from": before, "to": role},
        address=actor.address,
    )
    await session.flush()
    return user


async def _locked(session: AsyncSession, user_id: int) -> User:
    """The account, read after the active owners' rows (in id order) and then its own are
    locked on PostgreSQL: every change that could take away an owner locks in this order, so
    two owners demoting each other at once wait for one another instead of both passing (or
    deadlocking). SQLite lets one writer in at a time anyway."""
    await session.execute(
        select(User.id)
        .where(User.role == "owner", User.is_active.is_(True))
        .order_by(User.id)
        .with_for_update()
    )
    return await _get(session, user_id, lock=True)


async def _keep_an_owner(session: AsyncSession, *, leaving: User) -> None:
    """Refuse to take away the last active owner (call after `_locked`)."""
    owners = await session.scalars(
        select(User.id).where(User.role == "owner", User.is_active.is_(True), User.id != leaving.id)
    )
    if not list(owners):
        raise Conflict(
            "%(email)s is the last active owner: make someone else owner first",
            code="last_owner",
            email=leaving.email,
        )


async def _set_password(
    session: AsyncSession, user: User, new: str, repeated: str, *, keep_session_id: int | None
) -> None:
    if len(new) < MIN_LENGTH:
        raise ValidationFailed(
            "The password must be at least %(length)s characters",
            field="password",
            length=MIN_LENGTH,
        )
    if len(new) > MAX_PASSWORD:
        raise ValidationFailed(
            "The password must be at most %(length)s characters",
            field="password",
            length=MAX_PASSWORD,
        )
    if new != repeated:
        raise ValidationFailed("The two passwords differ", field="repeated")
    user.password_hash = hash_password(new)
    await sessions.end_for_user(
        session, user_id=user.id, reason="password_changed", keep_session_id=keep_session_id
    )
    await session.flush()


async def _get(session: AsyncSession, user_id: int | None, *, lock: bool = False) -> User:
    user = None
    if user_id is not None and 0 < user_id < 2**31:
        user = await session.get(User, user_id, with_for_update=lock)
    if user is None:
        raise NotFound("No such staff member")
    return user


def _bounded(password: str) -> str:
    """The password as typed, or "" (never right) when it is longer than any we set: hashing
    a megabyte-long guess would cost the server, and a cut one could match."""
    return password if len(password) <= MAX_PASSWORD else ""


def _dead_link() -> ValidationFailed:
    return ValidationFailed(
        "This link has expired or was already used. Ask for a new one.", code="link_dead"
    )
