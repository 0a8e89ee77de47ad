"""The audit log as owners read it: newest first, a page at a time, by person and action.
(Names of the people are users' business: users.service.names.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit.models import AuditEntry

PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    at: datetime
    user_id: int | None  # None: the system, the command line or a failed sign-in
    action: str
    subject_type: str | None
    subject_id: int | None
    details: dict[str, Any]
    address: str | None


@dataclass(frozen=True, slots=True)
class Page:
    entries: Sequence[Entry]
    page: int
    more: bool  # a next page exists


async def entries(
    session: AsyncSession,
    *,
    page: int = 1,
    user_id: int | None = None,
    action: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Page:
    """`page` counts from 1; `action` matches exactly or, ending in ".", as a prefix
    ("sign_in." for every kind of sign-in)."""
    page = max(1, page)
    stmt = (
        select(AuditEntry)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(page_size + 1)
        .offset((page - 1) * page_size)
    )
    if user_id is not None:
        stmt = stmt.where(AuditEntry.user_id == user_id)
    if action:
        if action.endswith("."):
            stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
        else:
            stmt = stmt.where(AuditEntry.action == action)
    rows = (await session.scalars(stmt)).all()
    found = [
        Entry(
            id=entry.id,
            at=entry.at,
            user_id=entry.user_id,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
            details=dict(entry.details or {}),
            address=entry.address,
        )
        for entry in rows
    ]
    return Page(entries=found[:page_size], page=page, more=len(found) > page_size)


async def actions(session: AsyncSession) -> list[str]:
    """Every action recorded so far (for the filter)."""
    rows = await session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return list(rows)


async def latest_action(
    session: AsyncSession, *, subject_type: str, subject_id: int, actions: Sequence[str]
) -> str | None:
    """Which of `actions` was recorded last about one row (None: none of them was)."""
    stmt = (
        select(AuditEntry.action)
        .where(
            AuditEntry.subject_type == subject_type,
            AuditEntry.subject_id == subject_id,
            AuditEntry.action.in_(actions),
        )
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)
