"""Everything a payrequest process needs, built once from settings: database, provider,
public URLs, gateways, job handlers and worker. Shared by the web app (`app.py`),
`payrequest worker` and the CLI."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from payrequest import __version__
from payrequest.api_keys import idempotency
from payrequest.automations import jobs as automation_jobs
from payrequest.automations.execution import Services as AutomationServices
from payrequest.config import ProviderMode, Settings, secret_key
from payrequest.connections.directory import (
    NOTHING_PAYABLE,
    NotConnected,
    ProviderDirectory,
    ProvidersOfTheScope,
)
from payrequest.db.session import (
    create_engine,
    read_only_factory,
    session_factory,
    writer_engine,
)
from payrequest.inbound import jobs as inbound_jobs
from payrequest.inbound import registrations, setup
from payrequest.jobs import maintenance
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.maintenance import Purging
from payrequest.jobs.runner import Worker
from payrequest.kit.clock import Calendar
from payrequest.kit.crypto import SecretBox
from payrequest.kit.urls import PublicUrls
from payrequest.ledger import jobs as ledger_jobs
from payrequest.notify.email import outbox as email_outbox
from payrequest.notify.email.smtp import EmailSender
from payrequest.notify.factory import build_email_sender, build_sms_gateway
from payrequest.notify.webhook.sender import WebhookSender
from payrequest.organisations.senders import SmsOfTheScope
from payrequest.payment_requests import jobs as payment_jobs
from payrequest.payment_requests import repository as payment_repository
from payrequest.payment_requests.lifetimes import lifetime_through
from payrequest.payment_requests.service import Lifetime
from payrequest.providers import checks
from payrequest.providers.base import PaymentProvider
from payrequest.providers.factory import (
    CARD_PROVIDER,
    build_account,
    build_card_provider,
    build_provider,
    check_installation,
)
from payrequest.ratelimit import service as ratelimit
from payrequest.sessions import service as sign_ins
from payrequest.webhooks import jobs as webhook_jobs
from payrequest.webhooks.endpoints import Rules
from payrequest.webhooks.services import WebhookServices

WORKER_LEASE = timedelta(seconds=15)  # renewed while a job runs; a killed worker loses it
SECRETS_TTL = 5.0  # seconds a process trusts its cached list of webhook secrets


@dataclass
class WebhookSecrets:
    """Webhook secrets per provider and connection (None: the installation's own), decrypted,
    cached briefly (one query per connection per few seconds)."""

    box: SecretBox
    _values: dict[tuple[str, int | None], tuple[float, list[str]]] = field(default_factory=dict)

    async def get(
        self, session: AsyncSession, provider: str, connection_id: int | None = None
    ) -> list[str]:
        loaded = self._values.get((provider, connection_id))
        if loaded is None or time.monotonic() - loaded[0] > SECRETS_TTL:
            values = await registrations.secrets(
                session, provider=provider, box=self.box, connection_id=connection_id
            )
            loaded = self._values[provider, connection_id] = (time.monotonic(), values)
        return loaded[1]

    def forget(self) -> None:
        self._values.clear()


@dataclass
class Runtime:
    settings: Settings
    urls: PublicUrls  # every public URL we hand out, under settings.public_url
    engine: AsyncEngine  # for writers (see db.session.writer_engine)
    read_engine: AsyncEngine  # the same engine on PostgreSQL
    sessions: async_sessionmaker[AsyncSession]
    read_sessions: async_sessionmaker[AsyncSession]  # for pages and streams that only read
    # The provider a payment names, as the organisation the work is for connected it.
    providers: ProvidersOfTheScope
    directory: ProviderDirectory  # which provider client each organisation uses
    box: SecretBox
    webhook_secrets: WebhookSecrets
    handlers: JobHandlers
    sms: SmsOfTheScope  # sends with the sender id of the organisation the work is for
    email: EmailSender | None  # None: no SMTP server configured
    webhooks: WebhookSender  # every outgoing webhook (notify.webhook)
    webhook_services: WebhookServices  # the organisations' webhook endpoints
    calendar: Calendar  # the time reminders go by (kit.clock.Calendar)
    # After a commit that leaves work for the job worker (a send, a cancel, a refund) or news
    # for open pages: have this process act on it now rather than at its next poll. The web
    # app sets it while it runs (web.nudge.wake_app); elsewhere nobody here listens.
    wake: Callable[[], None] = field(default=lambda: None)

    @property
    def webhook_url(self) -> str:
        """The installation's own webhook URL (its connection from the environment)."""
        return self.urls.webhook(self.providers.default_name)

    async def lifetime(self) -> Lifetime:
        """How long a new payment request of the current organisation may wait: its setting,
        within what its sales unit allows. NotConnected before it has a provider."""
        return await self.lifetime_for(self.providers.default_name)

    async def lifetime_for(self, name: str) -> Lifetime:
        """`lifetime()` of a request through provider `name` (a card payment's: the card
        provider's limits). NotConnected when the organisation has no such provider."""
        return await lifetime_through(self.providers, self.directory, name)

    async def lifetime_to_show(self) -> Lifetime:
        """`lifetime()` for pages, which also show an organisation without a provider: then
        nothing is payable (no currency) and the settings' default lifetime is shown."""
        try:
            return await self.lifetime()
        except NotConnected:
            return Lifetime(self.settings.vipps.default_lifetime_minutes, NOTHING_PAYABLE)

    async def check_provider(self) -> checks.Report:
        """`payrequest vipps check` and the settings page's check of the installation's own
        connection: credentials, webhook registrations and, outside production, the sales
        unit's situation (throw-away payments)."""
        provider = self.directory.installation
        return await check_installation(
            provider,
            self.settings,
            look_up=lambda: setup.look_up(self.read_sessions, provider, url=self.webhook_url),
        )

    def worker(self, **options: object) -> Worker:
        return Worker(self.sessions, self.handlers, lease=WORKER_LEASE, **options)  # type: ignore[arg-type]

    async def close(self) -> None:
        await self.providers.close()
        await self.sms.close()
        await self.webhooks.close()
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def build_runtime(settings: Settings, *, provider: PaymentProvider | None = None) -> Runtime:
    engine = writer_engine(settings.database_url)
    read_engine = (
        engine if engine.dialect.name == "postgresql" else create_engine(settings.database_url)
    )
    sessions = session_factory(engine)
    key = secret_key(settings)
    box = SecretBox(key)
    urls = PublicUrls(settings.public_url, signing_key=key)
    read_sessions = read_only_factory(read_engine)
    directory = ProviderDirectory(
        # reads only, so a request holding the writer's connection (SQLite has one) can ask
        read_sessions,
        box=box,
        urls=urls,
        build=lambda stored, long_living: build_account(
            stored, settings=settings, urls=urls, version=__version__, long_living=long_living
        ),
        installation=provider or build_provider(settings, version=__version__),
        card=build_card_provider(settings),
        card_name=CARD_PROVIDER,
    )
    providers = ProvidersOfTheScope(directory)
    handlers = JobHandlers()
    calendar = Calendar()
    payment_jobs.install(
        handlers,
        sessions=sessions,
        providers=providers,
        return_url=urls.portal_returned(),
    )
    inbound_jobs.install(
        handlers,
        providers=providers,
        sessions=sessions,
        batch_size=settings.inbound.batch_size,
    )
    ledger_jobs.install(handlers, in_requests=payment_repository.invoices_in_active_requests)
    maintenance.install(
        handlers,
        purge_rate_limit_hits=ratelimit.purge,
        purge_sign_ins=sign_ins.purge,
        more=[Purging("API idempotency records", idempotency.purge, idempotency.KEEP)],
    )
    sms = SmsOfTheScope(build_sms_gateway(settings, sandbox_base_url=urls.sandbox()), read_sessions)
    email = build_email_sender(settings)
    webhooks = WebhookSender(allow=settings.automations.webhook_allow)
    automation_jobs.install(
        handlers,
        AutomationServices(
            sessions,
            sms,
            email,
            webhooks,
            box,
            urls,
            settings.default_locale,
            lifetime=functools.partial(lifetime_through, providers, directory),
            calendar=calendar,
            card_name=providers.card_name,
        ),
        schedule_every=timedelta(seconds=settings.automations.schedule_seconds),
    )
    webhook_services = WebhookServices(
        sessions,
        webhooks,
        box,
        urls,
        email_outbox.sender_for(email, settings),
        Rules(
            allow=tuple(settings.automations.webhook_allow),
            https_only=settings.provider_mode is ProviderMode.production,
        ),
    )
    webhook_jobs.install(handlers, webhook_services)
    return Runtime(
        settings=settings,
        urls=urls,
        engine=engine,
        read_engine=read_engine,
        sessions=sessions,
        read_sessions=read_sessions,
        providers=providers,
        directory=directory,
        box=box,
        webhook_secrets=WebhookSecrets(box),
        handlers=handlers,
        sms=sms,
        email=email,
        webhooks=webhooks,
        webhook_services=webhook_services,
        calendar=calendar,
    )
