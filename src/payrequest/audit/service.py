"""Record who did what (audit.models.AuditEntry). Service function: session first, never
commits, so an entry is kept exactly when the change it describes is.

`details` holds plain values about the change: never a password, a token or a full card or
phone number (callers pass what an owner may read).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit.models import AuditEntry
from payrequest.kit.clock import utcnow

MAX_ACTION = 64
MAX_ADDRESS = 64
MAX_TEXT = 200  # a longer text value in `details` is cut (a login email as typed, a name)


async def record(
    session: AsyncSession,
    *,
    action: str,
    user_id: int | None = None,
    subject_type: str | None = None,
    subject_id: int | None = None,
    details: Mapping[str, Any] | None = None,
    address: str | None = None,
    organisation_id: int | None = None,
) -> AuditEntry:
    """Add one entry: `action` such as "payment_request.cancel", `user_id` the acting staff
    member (None: the system, the command line or a sign-in that failed), `address` the
    client's IP address when the action came over HTTP. The entry belongs to the session's
    organisation; `organisation_id` names it where the session acts for all (a sign-in)."""
    entry = AuditEntry(
        organisation_id=organisation_id,
        at=utcnow(),
        user_id=user_id,
        action=action[:MAX_ACTION],
        subject_type=subject_type,
        subject_id=subject_id,
        details={key: _plain(value) for key, value in (details or {}).items()},
        address=address[:MAX_ADDRESS] if address else None,
    )
    session.add(entry)
    await session.flush()
    return entry


async def record_edit(
    session: AsyncSession,
    action: str,
    subject_id: int,
    actor_id: int | None,
    details: Mapping[str, Any],
) -> AuditEntry:
    """An edit of one row by a staff member (None: the system or the command line); the
    subject's type is the action's first part ("invoice.update" is about an invoice)."""
    subject_type = action.partition(".")[0]
    return await record(
        session,
        action=action,
        user_id=actor_id,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
    )


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, str]:
    """The values that differ, each as "old → new" (an empty value shows as "–"), for
    `details` of an edit."""
    return {
        key: f"{_shown(before.get(key))} → {_shown(value)}"
        for key, value in after.items()
        if before.get(key) != value
    }


def _shown(value: Any) -> str:
    return "–" if value is None or value == "" else str(value)


def _plain(value: Any) -> Any:
    """A JSON-safe value: texts cut to MAX_TEXT, numbers and flags as they are."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value).replace("\x00", "")[:MAX_TEXT]
