"""An owner edits their organisation's profile: the name, organisation number and address
its receipts show, and the language new customers get by default. The market (and so the
currency) is fixed when the organisation is made. The same rules as the installation's
PAYREQUEST_BUSINESS__* settings (config.BusinessSettings) hold here, and a name is required.

An owner also edits the organisation's settings (`update_settings`): how long its payment
requests wait and whether its sales unit is approved for long-living ones, whether its
customers may pay part of an invoice in the portal, whether credit is applied by itself, the
sender id of its SMS and the accent colour of its portal. Service functions: session first,
never commit; an edit is recorded in the audit log as `organisation.update`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.config import BusinessSettings, valid_sms_sender
from payrequest.db.scope import organisation_of
from payrequest.errors import ValidationFailed
from payrequest.organisations import service as organisations
from payrequest.organisations.models import LOCALES, Organisation

MAX_NAME = 100  # as BusinessSettings.name and the column
MAX_ADDRESS = 200  # as BusinessSettings.address and the column
MIN_LIFETIME, MAX_LIFETIME = 10, 86400  # minutes, as the column's check
MAX_SMS_SENDER = 11  # the column; a numeric sender id may be longer at the gateway
BRAND_COLOUR = re.compile(r"^#[0-9a-f]{6}$")


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


@dataclass(frozen=True, slots=True)
class SettingsEdit:
    request_lifetime_minutes: str  # as typed
    long_living_approved: bool
    portal_partial_payments: bool
    auto_apply_credit: bool
    sms_sender: str  # "": the installation's
    brand_colour: str  # `#1a6e4f`; "": none


@dataclass(frozen=True, slots=True)
class CheckedSettings:
    request_lifetime_minutes: int
    long_living_approved: bool
    portal_partial_payments: bool
    auto_apply_credit: bool
    sms_sender: str | None
    brand_colour: str | None


def check_settings(edit: SettingsEdit) -> CheckedSettings:
    """The edit as stored; ValidationFailed naming the first field that breaks a rule."""
    try:
        minutes = int(edit.request_lifetime_minutes.strip())
    except ValueError:
        minutes = 0
    if not MIN_LIFETIME <= minutes <= MAX_LIFETIME:
        raise ValidationFailed(
            "The request lifetime must be %(min)s to %(max)s minutes",
            field="request_lifetime_minutes",
            min=MIN_LIFETIME,
            max=MAX_LIFETIME,
        )
    sender = edit.sms_sender.strip()
    if sender and (len(sender) > MAX_SMS_SENDER or not valid_sms_sender(sender)):
        raise ValidationFailed(
            "The SMS sender must be up to %(max)s letters, digits and spaces (A-Z, 0-9)"
            " or a number of up to %(max)s digits",
            field="sms_sender",
            max=MAX_SMS_SENDER,
        )
    colour = edit.brand_colour.strip().lower()
    if colour and not BRAND_COLOUR.match(colour):
        raise ValidationFailed(
            "The colour must be written as # and six hexadecimal digits, like #1a6e4f",
            field="brand_colour",
        )
    return CheckedSettings(
        request_lifetime_minutes=minutes,
        long_living_approved=edit.long_living_approved,
        portal_partial_payments=edit.portal_partial_payments,
        auto_apply_credit=edit.auto_apply_credit,
        sms_sender=sender or None,
        brand_colour=colour or None,
    )


SETTINGS = (
    "request_lifetime_minutes",
    "long_living_approved",
    "portal_partial_payments",
    "auto_apply_credit",
    "sms_sender",
    "brand_colour",
)


async def update_settings(
    session: AsyncSession, *, actor_id: int | None, edit: SettingsEdit
) -> tuple[Organisation, bool]:
    """Change the settings of the organisation the session acts for; returns it and whether
    anything changed (an edit that changes nothing records nothing). Processes that cache
    the settings are told by the caller (connections.directory's `forget`)."""
    checked = check_settings(edit)
    organisation = await organisations.get(session, organisation_of(session.sync_session))
    before = {name: getattr(organisation, name) for name in SETTINGS}
    after = {name: getattr(checked, name) for name in SETTINGS}
    changed = audit.changes(before, after)
    if changed:
        for name, value in after.items():
            setattr(organisation, name, value)
        await audit.record_edit(session, "organisation.update", organisation.id, actor_id, changed)
    return organisation, bool(changed)
