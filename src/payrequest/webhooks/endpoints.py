"""An organisation's webhook endpoints: add, change, rotate the secret, switch on and off,
delete (docs/webhooks.md, "Endpoints"). Service functions: session first, never commit; the
session acts for the organisation. Settings and the API call the same functions.

A URL is checked when it is saved the way every delivery checks it again (notify.webhook
.destinations: no loopback, private or metadata address unless the installation allows it),
and it must be https:// where real money moves (`Rules.https_only`). A secret is
`whsec_` + base64 of 24 random bytes, sealed at once (kit.crypto.SecretBox) and shown only in
the answer that made it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.audit import service as audit
from payrequest.errors import Conflict, NotFound, ValidationFailed
from payrequest.kit.clock import utcnow
from payrequest.kit.crypto import SecretBox
from payrequest.notify.webhook import signing
from payrequest.notify.webhook.destinations import Resolver, check_url, resolve
from payrequest.public.event_types import EVENT_TYPES
from payrequest.webhooks.models import WebhookDelivery, WebhookEndpoint

OVERLAP = timedelta(hours=24)  # a rotated secret keeps signing beside the new one this long
MAX_ENDPOINTS = 16  # per organisation
MAX_URL = 2000
MAX_DESCRIPTION = 200
GAVE_UP_SWITCHED_OFF = "The endpoint was switched off"


@dataclass(frozen=True)
class Rules:
    """Where endpoints may point on this installation: `allow` as the automations' webhook
    action (PAYREQUEST_AUTOMATIONS__WEBHOOK_ALLOW); `https_only` outside the sandbox and test
    modes."""

    allow: tuple[str, ...] = ()
    https_only: bool = True
    resolver: Resolver = field(default=resolve, compare=False)


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """What a form or an API call gives; None: leave as it is (when changing)."""

    url: str | None = None
    event_types: Sequence[str] | None = None
    description: str | None = None
    enabled: bool | None = None


@dataclass(frozen=True, slots=True)
class WithSecret:
    """An endpoint and its secret in clear: the only time the secret is shown."""

    endpoint: WebhookEndpoint
    secret: str


async def list_endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    found = await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    return list(found.all())


async def get(session: AsyncSession, endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    """The organisation's endpoint; NotFound for another's or none."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    found = (await session.scalars(query.with_for_update() if lock else query)).one_or_none()
    if found is None:
        raise NotFound("No such webhook endpoint", code="webhook_endpoint_not_found")
    return found


async def create(
    session: AsyncSession,
    change: EndpointChange,
    *,
    rules: Rules,
    box: SecretBox,
    actor_id: int | None = None,
) -> WithSecret:
    count = len(await list_endpoints(session))
    if count >= MAX_ENDPOINTS:
        raise Conflict(
            "An organisation can have at most %(most)s webhook endpoints",
            code="too_many_webhook_endpoints",
            most=MAX_ENDPOINTS,
        )
    url = await clean_url(change.url or "", rules)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        event_types=clean_types(change.event_types or ()),
        description=clean_description(change.description),
        enabled=True if change.enabled is None else change.enabled,
        secret=box.seal(secret),
        consecutive_failures=0,
    )
    session.add(endpoint)
    await session.flush()
    await _audit(session, "create", endpoint, actor_id, types=endpoint.event_types)
    return WithSecret(endpoint, secret)


async def change(
    session: AsyncSession,
    endpoint_id: int,
    change: EndpointChange,
    *,
    rules: Rules,
    actor_id: int | None = None,
) -> WebhookEndpoint:
    """Change what is given. Switching off gives up the endpoint's pending deliveries (a person
    may resend them); switching on again starts with a clean record of failures."""
    endpoint = await get(session, endpoint_id, lock=True)
    if change.url is not None:
        endpoint.url = await clean_url(change.url, rules)
    if change.event_types is not None:
        endpoint.event_types = clean_types(change.event_types)
    if change.description is not None:
        endpoint.description = clean_description(change.description)
    if change.enabled is not None and change.enabled != endpoint.enabled:
        if change.enabled:
            endpoint.enabled = True
            endpoint.disabled_reason = None
            endpoint.disabled_at = None
            endpoint.failing_since = None
            endpoint.consecutive_failures = 0
        else:
            await switch_off(session, endpoint, reason=None)
    await session.flush()
    await _audit(
        session, "update", endpoint, actor_id, types=endpoint.event_types, on=endpoint.enabled
    )
    return endpoint


async def switch_off(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    reason: str | None,
    now: datetime | None = None,
) -> None:
    """Off, by a person (`reason` None) or by payrequest (`failing`); its pending deliveries
    are given up. The caller holds the endpoint's lock."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    endpoint.disabled_at = now or utcnow()
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="failed", next_attempt_at=None, last_error=GAVE_UP_SWITCHED_OFF)
        .execution_options(synchronize_session=False)
    )


async def rotate(
    session: AsyncSession, endpoint_id: int, *, box: SecretBox, actor_id: int | None = None
) -> WithSecret:
    """A new secret; the one it replaces signs beside it for OVERLAP (a secret rotated earlier
    and still in its overlap stops signing now)."""
    endpoint = await get(session, endpoint_id, lock=True)
    secret = signing.new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + OVERLAP
    endpoint.secret = box.seal(secret)
    await session.flush()
    await _audit(session, "rotate_secret", endpoint, actor_id)
    return WithSecret(endpoint, secret)


async def delete(session: AsyncSession, endpoint_id: int, *, actor_id: int | None = None) -> None:
    """The endpoint, its deliveries and their log."""
    endpoint = await get(session, endpoint_id, lock=True)
    await _audit(session, "delete", endpoint, actor_id)
    await session.delete(endpoint)
    await session.flush()


async def _audit(
    session: AsyncSession,
    what: str,
    endpoint: WebhookEndpoint,
    actor_id: int | None,
    *,
    types: Sequence[str] | None = None,
    on: bool | None = None,
) -> None:
    details: dict[str, object] = {"url": endpoint.url}
    if types is not None:
        details["event_types"] = ", ".join(types)
    if on is not None:
        details["enabled"] = on
    await audit.record(
        session,
        action=f"webhook_endpoint.{what}",
        user_id=actor_id,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        details=details,
    )


def signing_secrets(endpoint: WebhookEndpoint, box: SecretBox, *, now: datetime) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the previous one during its
    overlap."""
    found = [box.open(endpoint.secret)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and now < until:
        found.append(box.open(endpoint.previous_secret))
    return found


async def clean_url(url: str, rules: Rules) -> str:
    cleaned = url.strip()
    if not cleaned:
        raise ValidationFailed("Enter the endpoint's URL", field="url", code="url_required")
    if len(cleaned) > MAX_URL:
        raise ValidationFailed(
            "The URL can be at most %(most)s characters", field="url", most=MAX_URL
        )
    scheme = urlsplit(cleaned).scheme.lower()
    if rules.https_only and scheme != "https":
        raise ValidationFailed(
            "The URL must start with https://", field="url", code="url_not_https"
        )
    await check_url(cleaned, allow=rules.allow, resolver=rules.resolver)
    return cleaned


def clean_types(types: Iterable[str]) -> list[str]:
    chosen = [t.strip() for t in types if t and t.strip()]
    unknown = sorted({t for t in chosen if t not in EVENT_TYPES})
    if unknown:
        raise ValidationFailed(
            "Unknown event type %(types)s", field="event_types", code="unknown_event_type",
            types=unknown,
        )  # fmt: skip
    if not chosen:
        raise ValidationFailed(
            "Choose at least one event type", field="event_types", code="event_types_required"
        )
    return [t for t in EVENT_TYPES if t in set(chosen)]


def clean_description(description: str | None) -> str:
    cleaned = (description or "").strip()
    if len(cleaned) > MAX_DESCRIPTION:
        raise ValidationFailed(
            "The description can be at most %(most)s characters",
            field="description",
            most=MAX_DESCRIPTION,
        )
    return cleaned
