"""An owner edits their organisation's profile: the name, organisation number and address
its receipts show, and the language new customers get by default. The market (and so the
currency) is fixed when the organisation is made. The same rules as the installation's
PAYREQUEST_BUSINESS__* settings (config.BusinessSettings) hold here, and a name is required.
Service function: session first, never commits; the edit is recorded in the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.config import BusinessSettings
from payrequest.db.scope import organisation_of
from payrequest.errors import ValidationFailed
from payrequest.organisations import service as organisations
from payrequest.organisations.models import LOCALES, Organisation

MAX_NAME = 100  # as BusinessSettings.name and the column
MAX_ADDRESS = 200  # as BusinessSettings.address and the column


@dataclass(frozen=True, slots=True)
class ProfileEdit:
    name: str
    organisation_number: str
    address: str  # one line: `Storgata 1, 0155 Oslo`
    default_locale: str


def _checked(edit: ProfileEdit) -> ProfileEdit:
    """The edit with its texts trimmed; ValidationFailed naming the first field that breaks
    a rule."""
    try:
        business = BusinessSettings(
            name=edit.name.strip(),
            organisation_number=edit.organisation_number.strip(),
            address=edit.address.strip(),
        )
    except ValidationError as exc:
        raise _refusal(str(exc.errors()[0]["loc"][0])) from None
    if not business.name:
        raise _refusal("name")
    if edit.default_locale not in LOCALES:
        raise ValidationFailed(
            "Language must be one of %(languages)s", field="default_locale", languages=LOCALES
        )
    return ProfileEdit(
        business.name, business.organisation_number, business.address, edit.default_locale
    )


def _refusal(field: str) -> ValidationFailed:
    if field == "organisation_number":
        return ValidationFailed(
            "The organisation number may have letters, digits, spaces, dots and hyphens"
            " (at most 30)",
            field=field,
        )
    if field == "address":
        return ValidationFailed(
            "The address must be one line of at most %(max)s characters",
            field=field,
            max=MAX_ADDRESS,
        )
    return ValidationFailed("Name must be 1 to %(max)s characters", field="name", max=MAX_NAME)


async def update(session: AsyncSession, *, actor_id: int | None, edit: ProfileEdit) -> Organisation:
    """Change the profile of the organisation the session acts for; an edit that changes
    nothing records nothing."""
    checked = _checked(edit)
    organisation = await organisations.get(session, organisation_of(session.sync_session))
    before = _values(organisation)
    after = {
        "name": checked.name,
        "organisation_number": checked.organisation_number,
        "address": checked.address,
        "default_locale": checked.default_locale,
    }
    changed = audit.changes(before, after)
    if changed:
        organisation.name = checked.name
        organisation.organisation_number = checked.organisation_number
        organisation.address = checked.address
        organisation.default_locale = checked.default_locale
        await audit.record_edit(session, "organisation.update", organisation.id, actor_id, changed)
    return organisation


def _values(organisation: Organisation) -> dict[str, str]:
    return {
        "name": organisation.name,
        "organisation_number": organisation.organisation_number,
        "address": organisation.address,
        "default_locale": organisation.default_locale,
    }
