"""What the API answered to a request with an `Idempotency-Key`, kept 24 hours
(docs/api.md, "Idempotency"). The web layer claims the key before the request runs
(`claim`), stores the answer after (`complete`), or lets the key go when the request failed
unexpectedly and changed nothing (`release`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.api_keys.models import IdempotentRequest
from payrequest.kit.clock import utcnow

KEEP = timedelta(hours=24)
MAX_KEY = 255


class Outcome(StrEnum):
    claimed = "claimed"  # new: run the request, then `complete` or `release`
    replay = "replay"  # answered before: send `status` and `body` again
    mismatch = "mismatch"  # the key was used for another request (method, path or body)
    in_progress = "in_progress"  # the first request with the key has not answered yet


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: Outcome
    record_id: int | None = None
    status: int | None = None
    body: str | None = None


def fingerprint(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def claim(
    session: AsyncSession, *, api_key_id: int, key: str, method: str, path: str, body: bytes
) -> Claim:
    """Claim `key` for this request, or say what the key's earlier request means for it. The
    caller commits at once (the claim is what a concurrent duplicate sees). A record older
    than KEEP that the purge has not removed yet counts as gone."""
    print_ = fingerprint(body)
    stmt = select(IdempotentRequest).where(
        IdempotentRequest.api_key_id == api_key_id, IdempotentRequest.key == key
    )
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None and utcnow() - found.created_at >= KEEP:
        await session.delete(found)
        await session.flush()
        found = None
    if found is not None:
        return _earlier(found, method=method, path=path, print_=print_)
    record = IdempotentRequest(
        api_key_id=api_key_id,
        key=key,
        method=method,
        path=path[:500],
        fingerprint=print_,
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:  # the same key, claimed a moment ago by a concurrent request
        return Claim(Outcome.in_progress)
    return Claim(Outcome.claimed, record_id=record.id)


def _earlier(found: IdempotentRequest, *, method: str, path: str, print_: str) -> Claim:
    if (found.method, found.path, found.fingerprint) != (method, path[:500], print_):
        return Claim(Outcome.mismatch, record_id=found.id)
    if found.response_status is None:
        return Claim(Outcome.in_progress, record_id=found.id)
    return Claim(
        Outcome.replay, record_id=found.id, status=found.response_status, body=found.response_body
    )


async def complete(session: AsyncSession, *, record_id: int, status: int, body: str) -> None:
    record = await session.get(IdempotentRequest, record_id)
    if record is not None:
        record.response_status = status
        record.response_body = body
        await session.flush()


async def release(session: AsyncSession, *, record_id: int) -> None:
    await session.execute(delete(IdempotentRequest).where(IdempotentRequest.id == record_id))


async def purge(session: AsyncSession, *, older_than: timedelta = KEEP) -> int:
    """Forget records older than `older_than` (the maintenance job, acting for all)."""
    result = await session.execute(
        delete(IdempotentRequest).where(IdempotentRequest.created_at < utcnow() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
