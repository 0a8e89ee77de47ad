"""What can be done to staff accounts, by the admin pages and the command line alike: sign
in and out, change or reset a password, and (owners) invite, deactivate, reactivate and
change roles. Each records itself in the audit log. Service functions: session first,
never commit; emails are sent by the caller after the commit (users.mail).

Sessions (sessions.service) end with the account's reason: a password set ends every other
session of the account, a deactivation all of them, so a copied cookie stops working.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.db.scope import organisation_of
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.ids import random_token
from payrequest.organisations import service as organisations
from payrequest.organisations.models import ROLES, Membership
from payrequest.sessions import service as sessions
from payrequest.users import service as users
from payrequest.users import tokens
from payrequest.users.members import Member
from payrequest.users.models import User
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
    organisation_id: int  # where the person works after signing in


async def sign_in(
    session: AsyncSession, *, email: str, password: str, address: str | None
) -> SignedIn | None:
    """A live session for the right email and password of a person active in at least one
    organisation (working in the first of them); None otherwise. Both outcomes are recorded
    (the email as typed on a failure, never the password). The session acts for every
    organisation: who signs in is not known before."""
    user = await users.authenticate(session, email=email, password=_bounded(password))
    memberships = await organisations.memberships_of(session, user.id) if user else []
    if user is None or not memberships:
        await audit.record(
            session,
            action="sign_in.failed",
            details={"email": email.strip().lower()},
            address=address,
        )
        return None
    organisation_id = memberships[0][0].organisation_id
    started = await sessions.start_staff(session, user_id=user.id, organisation_id=organisation_id)
    await audit.record(
        session,
        action="sign_in.succeeded",
        user_id=user.id,
        address=address,
        organisation_id=organisation_id,
    )
    return SignedIn(
        user=user,
        token=started.token,
        session_id=started.session_id,
        organisation_id=organisation_id,
    )


async def switch_organisation(
    session: AsyncSession, actor: Actor, *, session_id: int, organisation_id: int
) -> Member:
    """Work in another organisation the person is an active member of (NotFound for any
    other: one they do not belong to is not there for them)."""
    user = await _get(session, actor.user_id)
    membership = await organisations.membership(
        session, user_id=user.id, organisation_id=organisation_id
    )
    if membership is None or not membership.is_active:
        raise NotFound("No such organisation")
    await sessions.switch_organisation(
        session, session_id=session_id, organisation_id=organisation_id
    )
    await audit.record(
        session,
        action="organisation.switch",
        user_id=user.id,
        address=actor.address,
        organisation_id=organisation_id,
    )
    return Member.of(user, membership)


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
    if user.email_verified_at is None:  # the link came to that address: it is theirs
        user.email_verified_at = utcnow()
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
        user: User | None = (await _member(session, user_id)).user
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
) -> tuple[User, str | None]:
    """Add a person to the session's organisation as `role`. A new person gets an account
    with no usable password and an invitation link's token; someone who already has an
    account (in another organisation) is only given the membership, and no token: their
    password is theirs, not the inviting owner's to reset. Conflict if they are a member."""
    organisation_id = organisation_of(session.sync_session)
    existing = await users.get_by_email(session, email)
    if existing is not None:
        if await organisations.membership(
            session, user_id=existing.id, organisation_id=organisation_id
        ):
            raise Conflict(
                "A user with email %(email)s already exists", field="email", email=existing.email
            )
        await organisations.add_member(
            session, user_id=existing.id, organisation_id=organisation_id, role=role
        )
        user, token = existing, None
    else:
        user = await users.create_user(
            session,
            email=email,
            password=random_token(32),
            name=name,
            role=role,
            locale=locale,
            email_verified=False,  # until they choose a password through the emailed link
        )
        token = tokens.make(key, user, tokens.INVITE)
    await audit.record(
        session,
        action="staff.invite",
        user_id=actor.user_id,
        subject_type="user",
        subject_id=user.id,
        details={"email": user.email, "role": role},
        address=actor.address,
    )
    return user, token


async def invitation_link(
    session: AsyncSession, actor: Actor, *, key: str, user_id: int
) -> tuple[User, str]:
    """A fresh invitation token for a member of the session's organisation (an owner sends
    it again)."""
    member = await _member(session, user_id)
    return member.user, tokens.make(key, member.user, tokens.INVITE)


async def deactivate(session: AsyncSession, actor: Actor, *, user_id: int) -> Member:
    """The person can no longer work in the session's organisation; every session of theirs
    ends at once (they sign in again for another organisation they belong to)."""
    member = await _locked(session, user_id)
    membership = member.membership
    if membership.is_active and membership.role == "owner":
        await _keep_an_owner(session, leaving=member)
    if membership.is_active:
        membership.is_active = False
        await sessions.end_for_user(session, user_id=user_id, reason="deactivated")
        await audit.record(
            session,
            action="staff.deactivate",
            user_id=actor.user_id,
            subject_type="user",
            subject_id=user_id,
            details={"email": member.user.email},
            address=actor.address,
        )
    await session.flush()
    return Member.of(member.user, membership)


async def reactivate(session: AsyncSession, actor: Actor, *, user_id: int) -> Member:
    member = await _member(session, user_id)
    if not member.membership.is_active:
        member.membership.is_active = True
        await audit.record(
            session,
            action="staff.reactivate",
            user_id=actor.user_id,
            subject_type="user",
            subject_id=user_id,
            details={"email": member.user.email},
            address=actor.address,
        )
    await session.flush()
    return Member.of(member.user, member.membership)


async def set_role(session: AsyncSession, actor: Actor, *, user_id: int, role: str) -> Member:
    if role not in ROLES:
        raise ValidationFailed("Role must be one of %(roles)s", field="role", roles=ROLES)
    member = await _locked(session, user_id)
    membership = member.membership
    if membership.role != role:
        if membership.role == "owner" and membership.is_active:
            await _keep_an_owner(session, leaving=member)
        before, membership.role = membership.role, role
        await audit.record(
            session,
            action="staff.set_role",
            user_id=actor.user_id,
            subject_type="user",
            subject_id=user_id,
            details={"email": member.user.email, "from": before, "to": role},
            address=actor.address,
        )
        await session.flush()
    return Member.of(member.user, membership)


@dataclass(frozen=True, slots=True)
class _Held:
    user: User
    membership: Membership


async def _member(session: AsyncSession, user_id: int | None, *, lock: bool = False) -> _Held:
    """A person and their membership of the session's organisation; NotFound for anyone
    else (a person of another organisation is no one here)."""
    user = await _get(session, user_id)
    query = select(Membership).where(
        Membership.user_id == user.id,
        Membership.organisation_id == organisation_of(session.sync_session),
    )
    found = await session.scalars(query.with_for_update() if lock else query)
    membership = found.one_or_none()
    if membership is None:
        raise NotFound("No such staff member")
    return _Held(user, membership)


def _owners(session: AsyncSession) -> Select[int]:
    return select(Membership.id).where(
        Membership.organisation_id == organisation_of(session.sync_session),
        Membership.role == "owner",
        Membership.is_active.is_(True),
    )


async def _locked(session: AsyncSession, user_id: int) -> _Held:
    """The member, read after the organisation's active owners' memberships (in id order)
    and then their own are locked on PostgreSQL: every change that could take away an owner
    locks in this order, so two owners demoting each other at once wait for one another
    instead of both passing (or deadlocking). SQLite lets one writer in at a time anyway."""
    await session.execute(_owners(session).order_by(Membership.id).with_for_update())
    return await _member(session, user_id, lock=True)


async def _keep_an_owner(session: AsyncSession, *, leaving: _Held) -> None:
    """Refuse to take away the organisation's last active owner (call after `_locked`)."""
    others = await session.scalars(_owners(session).where(Membership.id != leaving.membership.id))
    if not list(others):
        raise Conflict(
            "%(email)s is the last active owner: make someone else owner first",
            code="last_owner",
            email=leaving.user.email,
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
