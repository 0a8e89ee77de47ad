"""The operator suspends an organisation, or lets it work again.

A suspended organisation's staff cannot work in it (web.auth shows them a page saying so);
nothing of it is deleted, and reactivating it lets them back as they were. Both are recorded
in the organisation's own audit log. Run in a session acting for every organisation.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.db.scope import ALL, UnscopedQuery, scope_of
from payrequest.errors import Conflict
from payrequest.organisations import service as organisations
from payrequest.organisations.models import Organisation


async def suspend(
    session: AsyncSession, *, organisation_id: int, by_user_id: int | None, address: str | None
) -> Organisation:
    """Suspend the organisation; Conflict if it is suspended already, NotFound if there is
    no such organisation."""
    return await _set(session, organisation_id, "suspended", by_user_id=by_user_id, address=address)


async def reactivate(
    session: AsyncSession, *, organisation_id: int, by_user_id: int | None, address: str | None
) -> Organisation:
    """Let a suspended organisation work again; Conflict if it is active already."""
    return await _set(session, organisation_id, "active", by_user_id=by_user_id, address=address)


async def _set(
    session: AsyncSession,
    organisation_id: int,
    status: str,
    *,
    by_user_id: int | None,
    address: str | None,
) -> Organisation:
    if scope_of(session.sync_session) is not ALL:
        raise UnscopedQuery("suspending an organisation acts for every one (scoped_to(ALL))")
    organisation = await organisations.get(session, organisation_id)
    if organisation.status == status == "suspended":
        raise Conflict("%(name)s is already suspended", name=organisation.name)
    if organisation.status == status:
        raise Conflict("%(name)s is already active", name=organisation.name)
    organisation.status = status
    await audit.record(
        session,
        action="organisation.suspend" if status == "suspended" else "organisation.reactivate",
        user_id=by_user_id,
        subject_type="organisation",
        subject_id=organisation.id,
        details={"slug": organisation.slug},
        address=address,
        organisation_id=organisation.id,
    )
    await session.flush()
    return organisation
