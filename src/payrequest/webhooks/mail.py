"""The email an organisation's owners get when payrequest switches one of its webhook
endpoints off after persistent failure (docs/webhooks.md, "Switched off"), each owner in
their own language. Sent by a job (`TELL_OWNERS_JOB`), queued with the switching off."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest import i18n
from payrequest.errors import N_
from payrequest.kit.urls import PublicUrls
from payrequest.notify.email.smtp import EmailSender
from payrequest.organisations.models import Organisation
from payrequest.users.service import list_users
from payrequest.webhooks import read
from payrequest.webhooks.models import WebhookEndpoint

TELL_OWNERS_JOB = "webhooks.tell_owners"

SUBJECT = N_("A webhook endpoint was switched off")
TEXT = N_(
    "Hello {name},\n\npayrequest has switched off the webhook endpoint {url} of {organisation}. "
    "Every delivery to it has failed since {since} ({count} tries in a row); the last error "
    "was: {error}\n\nEvents are no longer sent to it. When the receiving system works again, "
    "switch the endpoint on in Settings and resend the deliveries it missed from its "
    "delivery log:\n\n{url_settings}"
)


async def tell_owners(
    session: AsyncSession, sender: EmailSender | None, urls: PublicUrls, *, endpoint_id: int
) -> int:
    """Email every active owner of the endpoint's organisation (the session's); returns how
    many. Nothing when email is switched off or the endpoint was switched on again since."""
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if sender is None or endpoint is None or endpoint.disabled_reason != "failing":
        return 0
    organisation = await session.get(Organisation, endpoint.organisation_id)
    last_error = await read.last_error(session, endpoint.id)
    owners = [m for m in await list_users(session) if m.role == "owner" and m.is_active]
    moment = endpoint.disabled_at.isoformat() if endpoint.disabled_at else ""
    for owner in owners:
        language = owner.locale
        since = endpoint.failing_since or endpoint.disabled_at
        text = i18n.gettext(language, TEXT).format(
            name=owner.name,
            url=endpoint.url,
            organisation=organisation.name if organisation else "",
            since=i18n.moment(language, since),
            count=endpoint.consecutive_failures,
            error=last_error or "–",
            url_settings=urls.webhook_endpoints(),
        )
        await sender.send(
            to=owner.email,
            subject=i18n.gettext(language, SUBJECT),
            text=text,
            idempotency_key=f"webhook-off-{endpoint.id}-{moment}-{owner.id}",
        )
    return len(owners)
