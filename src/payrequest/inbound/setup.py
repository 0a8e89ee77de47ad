"""Keep exactly one webhook registration per merchant and public URL, with a known secret.

Several registrations for one URL make Vipps MobilePay send every event once per registration,
each signed with its own secret (docs/vipps.md#webhooks-api); so registering (`ensure_webhook`)
deletes the ones we have no secret for and the ones left behind when the public URL changed.
A check (`look_up`) only lists them; `remove_foreign` deletes those a person agreed to.
A registration that changed something, and every one a person asked for, is recorded in the
audit log (`actor_id`, users.id; None: the system or the command line), without its secret.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit import service as audit
from payrequest.inbound import registrations
from payrequest.kit.crypto import SecretBox
from payrequest.providers.base import PaymentProvider, WebhookEndpoint


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    endpoint_id: str
    url: str
    created: bool  # a new registration was made
    removed: tuple[str, ...]  # stale endpoint ids deleted at the provider


async def ensure_webhook(
    sessions: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    *,
    url: str,
    box: SecretBox,
    actor_id: int | None = None,
    connection_id: int | None = None,
) -> WebhookStatus:
    """Register `url` once for `provider`'s merchant (the installation's, or the connection
    `connection_id`'s), removing stale registrations; the secret is kept sealed."""
    remote = await provider.list_webhooks()
    async with sessions() as session:
        known = {
            r.external_id: r
            for r in await registrations.active(
                session,
                provider=provider.name,
                merchant_id=provider.merchant_id,
                connection_id=connection_id,
            )
        }
    keep = next((hook for hook in remote if hook.url == url and hook.endpoint_id in known), None)
    stale = [
        hook.endpoint_id
        for hook in remote
        if hook is not keep and (hook.url == url or hook.endpoint_id in known)
    ]
    for endpoint_id in stale:
        await provider.delete_webhook(endpoint_id)
    created = keep is None
    endpoint_id = keep.endpoint_id if keep else ""
    secret = None
    if keep is None:
        endpoint_id, secret = await provider.register_webhook(url)
    remote_ids = {hook.endpoint_id for hook in remote}
    async with sessions() as session, session.begin():
        for registration in await registrations.active(
            session,
            provider=provider.name,
            merchant_id=provider.merchant_id,
            connection_id=connection_id,
        ):
            if registration.external_id in stale or registration.external_id not in remote_ids:
                await registrations.mark_removed(session, registration)
        if secret is not None:
            await registrations.add(
                session,
                provider=provider.name,
                merchant_id=provider.merchant_id,
                external_id=endpoint_id,
                url=url,
                secret=secret,
                box=box,
                connection_id=connection_id,
            )
        if created or stale or actor_id is not None:
            await audit.record(
                session,
                action="webhook.register",
                user_id=actor_id,
                details={
                    "url": url,
                    "endpoint_id": endpoint_id,
                    "created": created,
                    "removed": ", ".join(stale),
                },
            )
    return WebhookStatus(endpoint_id, url, created, tuple(stale))


@dataclass(frozen=True, slots=True)
class Registrations:
    """The provider's webhook registrations that concern us, as a check reports them."""

    url: str
    ours: tuple[WebhookEndpoint, ...]  # for our address, with a secret we hold
    foreign: tuple[WebhookEndpoint, ...]  # for our address, with a secret we do not hold
    stale: tuple[WebhookEndpoint, ...]  # with a secret we hold, for another (older) address


async def look_up(
    sessions: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    *,
    url: str,
    connection_id: int | None = None,
) -> Registrations:
    """Compare the provider's registrations with the ones we hold the secret of. Changes
    nothing: a registration for our address without a secret we hold delivers every event
    once more, signed so that we must refuse it; only a person decides to remove it."""
    remote = await provider.list_webhooks()
    async with sessions() as session:
        known = {
            r.external_id
            for r in await registrations.active(
                session,
                provider=provider.name,
                merchant_id=provider.merchant_id,
                connection_id=connection_id,
            )
        }
    return Registrations(
        url,
        ours=tuple(h for h in remote if h.url == url and h.endpoint_id in known),
        foreign=tuple(h for h in remote if h.url == url and h.endpoint_id not in known),
        stale=tuple(h for h in remote if h.url != url and h.endpoint_id in known),
    )


async def remove_foreign(
    sessions: async_sessionmaker[AsyncSession],
    provider: PaymentProvider,
    *,
    url: str,
    endpoint_ids: Collection[str],
    actor_id: int | None = None,
) -> tuple[str, ...]:
    """Delete those of `endpoint_ids` that are still registrations for `url` whose secret we
    do not hold (a person saw them listed and agreed); returns the ids deleted. `sessions`
    must be able to write: the deletion is recorded in the audit log."""
    current = await look_up(sessions, provider, url=url)
    doomed = tuple(h.endpoint_id for h in current.foreign if h.endpoint_id in endpoint_ids)
    for endpoint_id in doomed:
        await provider.delete_webhook(endpoint_id)
    if doomed:
        async with sessions() as session, session.begin():
            await audit.record(
                session,
                action="webhook.remove_foreign",
                user_id=actor_id,
                details={"url": url, "removed": ", ".join(doomed)},
            )
    return doomed
