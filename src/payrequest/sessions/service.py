"""Start, find and end sign-in sessions. Service functions: session first, never commit.

The browser's cookie carries a random token (256 bits); only its SHA-256 is stored, so a
database leak opens no session. A session is alive while it has not ended and has not
expired; ending is one UPDATE, so every copy of the cookie stops working at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.kit.clock import utcnow
from payrequest.kit.ids import random_token
from payrequest.sessions.models import END_REASONS, SignInSession

STAFF_LIFETIME = timedelta(hours=12)
PORTAL_LIFETIME = timedelta(hours=12)
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Started:
    token: str  # for the cookie; never stored
    session_id: int


async def start_staff(
    session: AsyncSession,
    *,
    user_id: int,
    organisation_id: int,
    lifetime: timedelta = STAFF_LIFETIME,
) -> Started:
    return await _start(
        session,
        kind="staff",
        user_id=user_id,
        organisation_id=organisation_id,
        lifetime=lifetime,
    )


async def start_portal(
    session: AsyncSession,
    *,
    customer_id: int,
    organisation_id: int,
    lifetime: timedelta = PORTAL_LIFETIME,
) -> Started:
    return await _start(
        session,
        kind="portal",
        customer_id=customer_id,
        organisation_id=organisation_id,
        lifetime=lifetime,
    )


async def switch_organisation(
    session: AsyncSession, *, session_id: int, organisation_id: int
) -> None:
    """The staff session works in `organisation_id` from now on (the caller checked that the
    person is a member there)."""
    await session.execute(
        update(SignInSession)
        .where(SignInSession.id == session_id, SignInSession.kind == "staff")
        .values(organisation_id=organisation_id)
    )


async def _start(
    session: AsyncSession,
    *,
    kind: str,
    lifetime: timedelta,
    organisation_id: int,
    user_id: int | None = None,
    customer_id: int | None = None,
) -> Started:
    token = random_token(TOKEN_BYTES)
    now = utcnow()
    row = SignInSession(
        token_hash=token_hash(token),
        kind=kind,
        user_id=user_id,
        customer_id=customer_id,
        organisation_id=organisation_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    await session.flush()
    return Started(token=token, session_id=row.id)


async def alive(session: AsyncSession, *, token: str, kind: str) -> SignInSession | None:
    """The live session this token opens, of this kind; None if unknown, ended or expired."""
    if not token:
        return None
    row = (
        await session.scalars(
            select(SignInSession).where(
                SignInSession.token_hash == token_hash(token),
                SignInSession.kind == kind,
                SignInSession.ended_at.is_(None),
                SignInSession.expires_at > utcnow(),
            )
        )
    ).one_or_none()
    return row


async def end(session: AsyncSession, *, token: str, reason: str = "signed_out") -> None:
    """End the session this token opens (signing out); unknown or ended tokens change nothing."""
    _check(reason)
    await session.execute(
        update(SignInSession)
        .where(SignInSession.token_hash == token_hash(token), SignInSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )


async def end_for_user(
    session: AsyncSession, *, user_id: int, reason: str, keep_session_id: int | None = None
) -> int:
    """End every live session of a staff member (password changed, deactivated), but
    `keep_session_id` (the one that changed the password). Returns how many ended."""
    _check(reason)
    statement = (
        update(SignInSession)
        .where(SignInSession.user_id == user_id, SignInSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    if keep_session_id is not None:
        statement = statement.where(SignInSession.id != keep_session_id)
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def end_for_customer(session: AsyncSession, *, customer_id: int, reason: str) -> int:
    """End every live portal session of a customer (e.g. portal access switched off)."""
    _check(reason)
    result = await session.execute(
        update(SignInSession)
        .where(SignInSession.customer_id == customer_id, SignInSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _check(reason: str) -> None:
    if reason not in END_REASONS:
        raise ValueError(f"unknown end reason {reason!r}; one of {END_REASONS}")


async def purge(session: AsyncSession, *, older_than: timedelta) -> int:
    """Delete sessions that expired or ended more than `older_than` ago (the worker's purge)."""
    cutoff = utcnow() - older_than
    result = await session.execute(
        delete(SignInSession).where(
            (SignInSession.expires_at < cutoff) | (SignInSession.ended_at < cutoff)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
