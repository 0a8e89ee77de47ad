"""Connect an organisation to its own account at a provider: store the connection (secrets
sealed), check it live (the provider's own check: for Vipps MobilePay the same as `payrequest
vipps check`), and register its own webhook URL with the secret kept for that connection only.

The checks and the registration call the provider, so they run outside any transaction;
what they find is stored on the connection (`connected` or `failing`, with the reason) and
the registration is recorded in the organisation's audit log.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, replace

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
from payrequest.providers import checks
from payrequest.providers.accounts import CheckSettings
from payrequest.providers.base import ProviderError
from payrequest.providers.factory import account_kind


@dataclass(frozen=True, slots=True)
class Connected:
    connection_id: int
    report: checks.Report
    webhook: setup.WebhookStatus | None  # None: not registered (the check failed)
    error: str | None  # the registration's refusal, if any

    @property
    def ok(self) -> bool:
        return self.report.ok and self.webhook is not None


async def store(
    session: AsyncSession,
    new: connections.NewConnection,
    *,
    box: SecretBox,
    organisation_id: int,
    actor_id: int | None,
) -> int:
    """Store (or replace) the organisation's connection to the provider, unchecked; returns its
    id. Refused while a payment request of the organisation through that provider is still
    waiting: it would be followed through an account that never heard of it."""
    provider, account = new.provider, new.account
    waiting = await session.scalar(
        select(func.count())
        .select_from(PaymentRequest)
        .where(
            PaymentRequest.organisation_id == organisation_id,
            PaymentRequest.provider == provider,
            PaymentRequest.status.in_([status.value for status in ACTIVE]),
        )
    )
    existing = await connections.current(session, provider, organisation_id=organisation_id)
    if existing is not None and waiting:
        raise Conflict(
            "%(count)s payment requests are still waiting: change the connection when none is",
            code="requests_waiting",
            count=waiting,
        )
    connection = await connections.connect(session, new, box=box, organisation_id=organisation_id)
    await audit.record(
        session,
        action="connection.connect",
        user_id=actor_id,
        subject_type="connection",
        subject_id=connection.id,
        details={
            "provider": provider,
            "mode": new.mode,
            "account": account.account,
            **{k: v for k, v in account.details.items() if k != "client_id"},
            "own_keys": bool(account.secrets),
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
    provider: str,
    actor_id: int | None = None,
) -> Connected:
    """Check the organisation's connection to `provider` live and register its webhook when
    the keys work; the outcome is stored on the connection."""
    kind = account_kind(provider)
    scoped = scoped_to(organisation_id)
    async with sessions(info=scoped) as session:
        connection = await connections.current(session, provider)
        organisation = await session.get(Organisation, organisation_id)
        if connection is None or organisation is None:
            raise Conflict("The organisation has no connection to check", code="not_connected")
        stored = connections.opened(connection, box, urls)
        long_living = organisation.long_living_approved
    directory.forget(organisation_id)
    client = await directory.for_organisation(organisation_id, provider)
    url = stored.webhook_url

    def look_up() -> Awaitable[setup.Registrations]:
        return setup.look_up(sessions, client, url=url, connection_id=stored.id)

    # The check's throw-away payments and the registration are the organisation's work.
    with acting_for(organisation_id):
        report = await kind.check(
            client,
            stored,
            look_up=look_up,
            settings=CheckSettings(
                try_payments=stored.mode != "production", long_living_setting=long_living
            ),
        )
        webhook: setup.WebhookStatus | None = None
        error: str | None = None
        if report.listed is not None:  # the keys work: register our URL
            try:
                webhook = await setup.ensure_webhook(
                    sessions,
                    client,
                    url=url,
                    box=box,
                    actor_id=actor_id,
                    connection_id=stored.id,
                )
            except ProviderError as exc:
                error = exc.message
            else:  # what the check saw missing is there now
                report = replace(
                    report, findings=[f for f in report.findings if f.key != "webhook.missing"]
                )
    if report.listed is None:
        error = "; ".join(
            f.text % f.params if f.params else f.text for f in report.findings if f.ok is False
        )
    async with sessions(info=scoped) as session, session.begin():
        connection = await connections.current(session, provider)
        if connection is not None:
            await connections.mark_checked(session, connection, error=error)
    return Connected(stored.id, report, webhook, error)
