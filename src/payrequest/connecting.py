"""Connect an organisation to its own sales unit: store the connection (credentials sealed),
check it live (the same checks as `payrequest vipps check`), and register its own webhook URL
with the secret kept for that connection only.

The checks and the registration call the provider, so they run outside any transaction;
what they find is stored on the connection (`connected` or `failing`, with the reason) and
the registration is recorded in the organisation's audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.audit import service as audit
from payrequest.connections import service as connections
from payrequest.connections.directory import ProviderDirectory
from payrequest.db.scope import acting_for, scoped_to
from payrequest.errors import Conflict
from payrequest.inbound import setup
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.organisations.models import Organisation
from payrequest.payment_requests.models import PaymentRequest
from payrequest.payment_requests.state import ACTIVE
from payrequest.providers.base import ProviderError
from payrequest.providers.vipps import checkup


@dataclass(frozen=True, slots=True)
class Connected:
    connection_id: int
    report: checkup.Report
    webhook: setup.WebhookStatus | None  # None: not registered (the check failed)
    error: str | None  # the registration's refusal, if any

    @property
    def ok(self) -> bool:
        return self.report.ok and self.webhook is not None


async def store(
    session: AsyncSession,
    unit: connections.SalesUnit,
    *,
    box: SecretBox,
    organisation_id: int,
    actor_id: int | None,
) -> int:
    """Store (or replace) the organisation's connection, unchecked; returns its id. Refused
    while a payment request of the organisation is still waiting: it would be followed
    through a sales unit that never heard of it."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(PaymentRequest)
        .where(
            PaymentRequest.organisation_id == organisation_id,
            PaymentRequest.status.in_([status.value for status in ACTIVE]),
        )
    )
    existing = await connections.current(session, organisation_id=organisation_id)
    if existing is not None and waiting:
        raise Conflict(
            "%(count)s payment requests are still waiting: change the connection when none is",
            code="requests_waiting",
            count=waiting,
        )
    connection = await connections.connect(session, unit, box=box, organisation_id=organisation_id)
    await audit.record(
        session,
        action="connection.connect",
        user_id=actor_id,
        subject_type="connection",
        subject_id=connection.id,
        details={
            "mode": unit.mode,
            "market": unit.market,
            "merchant_serial_number": unit.merchant_serial_number,
            "own_keys": unit.client_id is not None,
        },
        organisation_id=organisation_id,
    )
    return connection.id


async def check_and_register(
    sessions: async_sessionmaker[AsyncSession],
    directory: ProviderDirectory,
    *,
    urls: PublicUrls,
    box: SecretBox,
    organisation_id: int,
    actor_id: int | None = None,
) -> Connected:
    """Check the organisation's connection live and register its webhook when the check
    passes; the outcome is stored on the connection."""
    scoped = scoped_to(organisation_id)
    async with sessions(info=scoped) as session:
        connection = await connections.current(session)
        organisation = await session.get(Organisation, organisation_id)
        if connection is None or organisation is None:
            raise Conflict("The organisation has no connection to check", code="not_connected")
        connection_id, market, mode = connection.id, connection.market, connection.mode
        url = urls.connection_webhook(connection.provider, connection.webhook_token)
        long_living = organisation.long_living_approved
    directory.forget(organisation_id)
    provider = await directory.for_organisation(organisation_id)

    def look_up() -> Awaitable[setup.Registrations]:
        return setup.look_up(sessions, provider, url=url, connection_id=connection_id)

    # The check's throw-away payments and the registration are the organisation's work.
    with acting_for(organisation_id):
        report = await checkup.run(
            provider,
            look_up=look_up,
            market=market,
            try_payments=mode != "production",
            long_living_setting=long_living,
        )
        webhook: setup.WebhookStatus | None = None
        error: str | None = None
        if report.listed is not None:  # the credentials work: register our URL
            try:
                webhook = await setup.ensure_webhook(
                    sessions,
                    provider,
                    url=url,
                    box=box,
                    actor_id=actor_id,
                    connection_id=connection_id,
                )
            except ProviderError as exc:
                error = exc.message
    if report.listed is None:
        error = "; ".join(
            f.text % f.params if f.params else f.text for f in report.findings if f.ok is False
        )
    async with sessions(info=scoped) as session, session.begin():
        connection = await connections.current(session)
        if connection is not None:
            await connections.mark_checked(session, connection, error=error)
    return Connected(connection_id, report, webhook, error)
