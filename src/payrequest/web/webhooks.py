"""`POST /webhooks/{provider}`: authenticate, store once, apply, acknowledge.

The provider is the one the path names (`/webhooks/vipps`, the address Vipps MobilePay has
always called); it authenticates and reads its own events, and names the key a duplicate is
known by. A path naming no provider of ours gets 404. Vipps MobilePay's signature covers the
configured public URL and the raw body bytes. A forged
request gets 401 and nothing is stored; every genuine event gets 200, even a duplicate, one we
cannot place, one whose application failed (kept and retried by a job), or an authentic body
that is no event we can read (`[]`, a reference too long to keep: kept as `unusable` with the
reason, for the operations page). A non-2xx would hold back later events for the payment.

Each event is kept and applied for the organisation its payment belongs to: after the
signature, one read of the payment's reference acting for all organisations finds it, and the
inbox row, the changes and any retry job are that organisation's (db.scope). An event no
payment has the reference of (a connection check, a payment we never made) is kept as the
installation's own row (no organisation), seen only by work done for all of them.

A refused request is counted for the operations page, as the installation's (it is nobody's),
in one of two counters: signed with a secret we do not hold although whole, on time and about
our own account (most likely another webhook registration of our address, which `payrequest
vipps check` finds), or anything else (a bad signature, missing headers, a body that does not
match its hash, an old date).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from payrequest.connections import service as connections
from payrequest.db.scope import ALL, scoped_to
from payrequest.inbound import drain, service
from payrequest.kit import urls
from payrequest.providers.base import (
    PaymentProvider,
    ProviderEvent,
    UnknownProvider,
    WebhookRejected,
    WebhookSecretUnknown,
    WebhookUnreadable,
)
from payrequest.ratelimit import service as ratelimit
from payrequest.runtime import Runtime
from payrequest.web.nudge import wake

router = APIRouter()
log = logging.getLogger(__name__)
# Refused webhooks are counted (for the operations page), never stored: those signed by a
# registration of our address whose secret we do not hold, and all others.
REJECTED_KEY = "webhook:rejected"
FOREIGN_KEY = "webhook:foreign-registration"


@router.post(urls.WEBHOOK, include_in_schema=False)
async def installation_webhook(request: Request, provider: str) -> JSONResponse:
    """The installation's own connection of the provider (from the environment): checked
    with its secrets, for the payments of organisations that use it (none of their own)."""
    return await _accept(request, name=provider, connection=None)


@router.post(urls.CONNECTION_WEBHOOK, include_in_schema=False)
async def connection_webhook(request: Request, provider: str, token: str) -> JSONResponse:
    """One organisation's own connection, named by its URL's token: checked with that
    connection's secrets only, and applied only to that organisation's payments. A webhook
    signed with organisation A's secret can name B's payment: it finds nothing in A."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.read_sessions(info=scoped_to(ALL)) as lookup:
        connection = await connections.by_webhook_token(lookup, token)
        found = (
            None
            if connection is None or connection.provider != provider
            else (connection.id, connection.organisation_id)
        )
    if found is None:
        async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
            await ratelimit.hit(session, key=REJECTED_KEY)
        return JSONResponse({"error": "unknown webhook address"}, status_code=404)
    return await _accept(request, name=provider, connection=found)


async def _accept(
    request: Request, *, name: str, connection: tuple[int, int] | None
) -> JSONResponse:
    """Authenticate, store once, apply, acknowledge (see the module's docstring); `name` is
    the provider, `connection` (connection id, its organisation), None for the
    installation's."""
    runtime: Runtime = request.app.state.runtime
    connection_id = connection[0] if connection else None
    # The client of the connection the webhook came to: whose account it is about.
    try:
        provider = (
            runtime.providers.reader(name)
            if connection is None
            else await runtime.directory.for_organisation(connection[1], name)
        )
    except UnknownProvider:
        return JSONResponse({"error": "unknown webhook address"}, status_code=404)
    body = await request.body()
    headers = dict(request.headers)
    event: ProviderEvent | None = None
    try:
        # Before the organisation is known: the connection's secrets and the one lookup of
        # the payment's organisation, for all organisations (db.scope).
        async with runtime.read_sessions(info=scoped_to(ALL)) as lookup:
            secrets = await runtime.webhook_secrets.get(lookup, name, connection_id)
            try:
                event = provider.parse_webhook(body, headers, secrets=secrets)
                unusable = service.unusable_reason(event)
            except WebhookUnreadable as exc:
                unusable = str(exc)
            if unusable is not None:
                event = None
            if connection is not None:
                organisation: int | None = connection[1]
            elif event is None:
                organisation = None
            else:
                organisation = await service.organisation_of(
                    lookup, event.reference, installation_connection=True, provider=name
                )
    except WebhookRejected as exc:
        foreign = signed_elsewhere(provider, body, exc)
        log.warning(
            "rejected webhook from %s: %s%s",
            request.client.host if request.client else "?",
            exc,
            " (whole and for our account: another registration of our address?)" if foreign else "",
        )
        # Counted for whoever looks after the URL: the connection's organisation, or (the
        # installation's URL) the installation itself.
        counted = ALL if connection is None else connection[1]
        async with runtime.sessions(info=scoped_to(counted)) as session, session.begin():
            await ratelimit.hit(session, key=FOREIGN_KEY if foreign else REJECTED_KEY)
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    # The event's organisation, or (no payment has its reference) every one: such a row
    # belongs to nobody and is seen only by installation-wide work.
    scope = ALL if organisation is None else organisation
    async with runtime.sessions(info=scoped_to(scope)) as session:
        try:
            async with session.begin():
                if event is None:
                    received = await service.keep_unusable(
                        session,
                        provider=provider.name,
                        body=body,
                        headers=headers,
                        reason=unusable or "",
                    )
                else:  # stored and applied here, or stored for the worker's drain
                    batched = runtime.settings.inbound.apply == "batched"
                    keep = drain.acknowledge if batched else service.receive
                    received = await keep(
                        session,
                        provider=provider.name,
                        event=event,
                        body=body,
                        headers=headers,
                        organisation_id=organisation,
                    )
        except Exception as exc:
            if event is None:  # not even kept: answer 500, Vipps MobilePay sends it again
                raise
            # Applying failed and took the transaction with it: keep the event in a new one,
            # with a job that applies it again (for the same organisation).
            async with session.begin():
                received = await service.keep_failed(
                    session,
                    provider=provider.name,
                    event=event,
                    body=body,
                    headers=headers,
                    error=exc,
                    organisation_id=organisation,
                )
    wake(request)  # a capture may be due; browsers should hear of it now
    return JSONResponse({"status": received.status})


def signed_elsewhere(provider: PaymentProvider, body: bytes, refused: WebhookRejected) -> bool:
    """Whether a refused webhook is whole, on time and about our own account, only signed
    with a secret we do not hold: what another registration of our address delivers. We still
    cannot verify it (a careful forgery looks the same), so it is refused all the same."""
    if not isinstance(refused, WebhookSecretUnknown):
        return False
    try:
        event = provider.read_event(body)
    except WebhookRejected:
        return False
    return event.merchant_id == provider.merchant_id
