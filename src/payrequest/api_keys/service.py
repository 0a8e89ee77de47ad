"""Making, revoking and checking API keys (docs/api.md, "Authentication").

A key is `prk_` followed by 43 URL-safe characters (32 random bytes). It is shown once, when
made; the database keeps its SHA-256 and its first 12 characters (`prefix`, shown in Settings
to tell keys apart). Services never commit: the caller owns the transaction."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.api_keys import repository
from payrequest.api_keys.models import SCOPES, ApiKey
from payrequest.audit import service as audit
from payrequest.errors import NotFound, ValidationFailed
from payrequest.kit.clock import utcnow

KEY_START = "prk_"
PREFIX_LENGTH = 12  # `prk_` and 8 characters of the secret
SECRET_BYTES = 32
MAX_NAME = 100
# How often a key's `last_used_at` is written at most: a busy key does not write on every call.
LAST_USED_EVERY = timedelta(minutes=1)
MAX_PRESENTED = 200  # characters of a presented key looked at; a key is 47


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: the row, and the key itself, which is never shown again."""

    row: ApiKey
    secret: str


def key_hash(key: str) -> str:
    """The SHA-256 (hex) of a key, as stored (see ApiKey on why a plain hash is right)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise ValidationFailed("Give the key a name", field="name")
    if len(cleaned) > MAX_NAME:
        raise ValidationFailed("The name is longer than 100 characters", field="name")
    return cleaned


async def create_key(
    session: AsyncSession, *, name: str, scope: str, actor_id: int | None
) -> NewKey:
    """A new key for the session's organisation, with `scope` read (GET only) or write."""
    if scope not in SCOPES:
        raise ValidationFailed("The scope is read or write", field="scope")
    secret = KEY_START + secrets.token_urlsafe(SECRET_BYTES)
    row = ApiKey(
        name=_name(name),
        prefix=secret[:PREFIX_LENGTH],
        key_hash=key_hash(secret),
        scope=scope,
        created_by_user_id=actor_id,
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    details = {"name": row.name, "prefix": row.prefix, "scope": row.scope}
    await audit.record_edit(session, "api_key.create", row.id, actor_id, details)
    return NewKey(row, secret)


async def revoke_key(session: AsyncSession, *, key_id: int, actor_id: int | None) -> ApiKey:
    """The key stops working at once; revoking one already revoked changes nothing."""
    row = await repository.get(session, key_id)
    if row is None:
        raise NotFound("No such API key")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
        details = {"name": row.name, "prefix": row.prefix}
        await audit.record_edit(session, "api_key.revoke", row.id, actor_id, details)
    return row


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return await repository.listed(session)


async def find_key(session: AsyncSession, presented: str) -> ApiKey | None:
    """The live key `presented` is, or None; nothing is written. The session acts for every
    organisation (the key tells whose it is). The lookup is by the key's hash, so how long it
    takes says nothing about how much of a key was right; the stored hash is compared in
    constant time all the same."""
    if not presented.startswith(KEY_START) or len(presented) > MAX_PRESENTED:
        return None
    wanted = key_hash(presented)
    row = await repository.by_hash(session, wanted)
    if row is None or not hmac.compare_digest(row.key_hash, wanted) or row.revoked_at:
        return None
    return row


def use_is_news(row: ApiKey) -> bool:
    """Whether a use of the key now is worth noting (at most once per LAST_USED_EVERY)."""
    return row.last_used_at is None or utcnow() - row.last_used_at >= LAST_USED_EVERY


async def note_use(session: AsyncSession, *, key_id: int) -> None:
    row = await repository.get(session, key_id)
    if row is not None:
        row.last_used_at = utcnow()
        await session.flush()


async def authenticate(session: AsyncSession, presented: str) -> ApiKey | None:
    """`find_key` and, when it is news, `note_use`, in one (writing) session."""
    row = await find_key(session, presented)
    if row is not None and use_is_news(row):
        row.last_used_at = utcnow()
        await session.flush()
    return row
