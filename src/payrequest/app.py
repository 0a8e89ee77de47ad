"""The web application: `create_app(settings)` builds everything the process needs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from hashlib import blake2b
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware

from payrequest import __version__, connecting
from payrequest.config import ProviderMode, Settings, load_settings, secret_key
from payrequest.connections import service as connections
from payrequest.connections.service import NewConnection
from payrequest.db.pg_notify import JOBS_CHANNEL, OUTBOX_CHANNEL, listener_for
from payrequest.db.scope import ALL, scoped_to
from payrequest.imports import jobs as import_jobs
from payrequest.imports.uploads import Uploads
from payrequest.inbound.setup import ensure_webhook
from payrequest.jobs.process import running
from payrequest.kit import urls
from payrequest.organisations.models import Organisation
from payrequest.providers.stripe import account as stripe_account
from payrequest.providers.stripe.account import STRIPE_ACCOUNTS
from payrequest.providers.vipps import account as vipps_account
from payrequest.realtime.broker import OutboxTail
from payrequest.runtime import Runtime, build_runtime
from payrequest.sandbox import SandboxConfig, create_sandbox_app, sandbox_of_app
from payrequest.sandbox.config import SalesUnitConfig, auto_unit
from payrequest.sandbox.stripe import StripeConfig, create_stripe_app, stripe_of_app
from payrequest.web import (
    admin,
    emulator_access,
    errors,
    health,
    nudge,
    portal,
    sms_replies,
    sse,
    webhooks,
)
from payrequest.web import outbox as web_outbox
from payrequest.web import signup as web_signup
from payrequest.web.admin import operator as web_operator
from payrequest.web.api import app as api
from payrequest.web.body_limits import BodyLimits
from payrequest.web.observe import ObserveRequests
from payrequest.web.organisation_scope import StartUnscoped
from payrequest.web.security_headers import SecurityHeaders

STATIC = Path(__file__).parent / "web" / "static"
REGISTER_WITHIN = 60.0  # seconds to keep trying to register the sandbox webhook
log = logging.getLogger(__name__)


def sandbox_config(settings: Settings) -> SandboxConfig:
    """The mounted emulator plays the sales unit of our keys and market, plus the emulator's
    documented test units of the other markets and its test partner keys (so a second
    business, in Denmark say, can connect its own unit). What a sales unit is approved for is
    the emulator's own truth (its switches at /sandbox/vipps/faults, default the demo's:
    approved for long-living payments), not our `long_living_approved` setting."""
    vipps = settings.vipps
    return SandboxConfig(
        client_id=vipps.client_id or "",
        client_secret=vipps.client_secret.get_secret_value() if vipps.client_secret else "",
        subscription_key=(
            vipps.subscription_key.get_secret_value() if vipps.subscription_key else ""
        ),
        msn=vipps.merchant_serial_number or "",
        market=vipps.market,
        merchant_name="payrequest demo",
        state_path=settings.var_dir / "sandbox.db" if settings.sandbox_persist else None,
    ).with_test_units()


def stripe_sandbox_config(settings: Settings) -> StripeConfig:
    """The mounted Stripe emulator answers the installation's (test) key, and every other
    test key as an account of its own (an organisation connecting its own account)."""
    key = settings.stripe.secret_key
    keys = (key.get_secret_value(),) if key is not None else ()
    return StripeConfig(
        secret_keys=keys or StripeConfig().secret_keys,
        any_test_key=True,
        merchant_name="payrequest demo",
    )


def emulator_connection(unit: SalesUnitConfig) -> NewConnection:
    """How an organisation connects to one of the mounted emulator's sales units."""
    account = vipps_account.sales_unit(
        market=unit.market,
        merchant_serial_number=unit.msn,
        client_id=unit.client_id,
        client_secret=unit.client_secret,
        subscription_key=unit.subscription_key,
    )
    return NewConnection(vipps_account.VIPPS_ACCOUNTS.name, ProviderMode.sandbox.value, account)


def emulator_card_connection(key: str) -> NewConnection:
    """How an organisation connects an account of its own at the mounted Stripe emulator
    (which takes every test key as an account of its own)."""
    return NewConnection(
        STRIPE_ACCOUNTS.name, ProviderMode.sandbox.value, stripe_account.of_key(key)
    )


AUTO_MSN_BASE = 9_000_000  # automatic test units' MSNs: 9000000 + the organisation's id


def emulator_unit_for(organisation: Organisation) -> NewConnection:
    """The emulator's automatic test unit of one organisation: its own MSN in its market
    (sandbox.config.auto_unit), so no two businesses ever share a sales unit."""
    return emulator_connection(auto_unit(organisation.market, str(AUTO_MSN_BASE + organisation.id)))


RUN_WORKER_ENV = "PAYREQUEST_SERVE_JOB_WORKER"  # "0": `serve --no-worker` (read by app_factory)


def app_factory() -> FastAPI:
    """`uvicorn --factory payrequest.app:app_factory`, what `serve --workers N` runs in each
    process: settings from the environment, the job worker unless PAYREQUEST_SERVE_JOB_WORKER=0."""
    return create_app(run_worker=os.environ.get(RUN_WORKER_ENV, "1") != "0")


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    run_worker: bool = True,
) -> FastAPI:
    settings = settings or load_settings()
    runtime = runtime or build_runtime(settings)
    import_jobs.install(
        runtime.handlers, sessions=runtime.sessions, uploads=Uploads.under(settings.var_dir)
    )
    # The emulator exists only in sandbox mode; its phone answers staff and the emulator key.
    in_sandbox = settings.provider_mode is ProviderMode.sandbox
    https = settings.public_url.startswith("https://")
    guard = emulator_access.guard(runtime, secret_key(settings), https=https)
    sandbox_app = (
        create_sandbox_app(
            sandbox_config(settings),
            guard=guard,
            on_sms_reply=sms_replies.sandbox_reply_handler(runtime),
        )
        if in_sandbox
        else None
    )
    if sandbox_app is not None:  # reminders follow the emulator's clock (a tester moves it)
        runtime.calendar.follow(sandbox_of_app(sandbox_app).clock.now)
    stripe_app = (
        create_stripe_app(stripe_sandbox_config(settings), guard=guard)
        if in_sandbox and runtime.directory.card is not None
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(runtime.close)
            if sandbox_app is not None:
                await sandbox_of_app(sandbox_app).start()
                stack.push_async_callback(sandbox_of_app(sandbox_app).stop)
            if stripe_app is not None:
                await stripe_of_app(stripe_app).start()
                stack.push_async_callback(stripe_of_app(stripe_app).stop)
            app.state.tail = tail = OutboxTail(runtime.read_sessions)
            await tail.start()
            stack.push_async_callback(tail.stop)
            # PostgreSQL: other processes' commits wake this tail and worker at once.
            listener = listener_for(settings.database_url)
            wakeups = None
            if listener is not None:
                listener.on(OUTBOX_CHANNEL, lambda _payload: tail.wake())
                wakeups = listener.wakeups(JOBS_CHANNEL) if run_worker else None
                await stack.enter_async_context(listener)
            if run_worker:
                worker = runtime.worker(wakeups=wakeups)
                app.state.worker = await stack.enter_async_context(running(worker))
            runtime.wake = functools.partial(nudge.wake_app, app)  # commands' wake (runtime.py)
            stack.callback(setattr, runtime, "wake", lambda: None)
            if in_sandbox:
                task = asyncio.create_task(_register_webhook_when_up(runtime))
                stack.push_async_callback(_cancel, task)
            # Everything built at start-up lives as long as the process: keep it out of the
            # garbage collector's full passes, which otherwise stall requests for ~100 ms.
            gc.collect()
            gc.freeze()
            yield

    # The API documents itself at /api/v1/docs (web.api); the pages are not an API.
    app = FastAPI(
        title="payrequest",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.engine = runtime.engine
    app.state.sessions = runtime.sessions
    errors.install(app)
    app.include_router(health.router)
    app.include_router(sms_replies.router)  # before webhooks': its path fits theirs too
    app.include_router(webhooks.router)
    app.include_router(sse.router)
    app.include_router(admin.router)
    app.include_router(web_signup.router)
    app.include_router(web_operator.router)
    app.include_router(web_outbox.router)
    app.include_router(portal.router)
    app.add_middleware(StartUnscoped)  # a request acts for no organisation until it knows whom
    app.add_middleware(BodyLimits)  # inside the session: its 413 page knows the reader
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key(settings),
        session_cookie="payrequest_session",
        same_site="lax",
        https_only=https,
        max_age=12 * 3600,
    )
    app.add_middleware(SecurityHeaders, https=https)  # outermost: on every answer
    app.add_middleware(ObserveRequests)  # request id, log context and metrics around all
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount(api.PREFIX, api.create_api(runtime, settings))
    if stripe_app is not None:
        app.mount(urls.SANDBOX_STRIPE, stripe_app)
    if sandbox_app is not None:
        app.mount(urls.SANDBOX, sandbox_app)
        # A business that signs up gets a test sales unit of its own (web/signup.py).
        app.state.emulator_unit_for = emulator_unit_for
    return app


async def _register_webhook_when_up(runtime: Runtime) -> None:
    """In sandbox mode the emulator is ourselves: register once the server answers."""
    deadline = asyncio.get_running_loop().time() + REGISTER_WITHIN
    while True:
        try:
            async with _one_process_at_a_time(runtime, "ensure_webhook"):
                status = await ensure_webhook(
                    runtime.sessions,
                    runtime.directory.installation,
                    url=runtime.webhook_url,
                    box=runtime.box,
                )
        except Exception as exc:
            if asyncio.get_running_loop().time() > deadline:
                log.error("could not register the sandbox webhook: %s", exc)
                return
            await asyncio.sleep(0.2)
            continue
        runtime.webhook_secrets.forget()
        log.info("webhook %s registered for %s", status.endpoint_id, status.url)
        await _register_card_webhook(runtime)
        await _check_emulator_connections(runtime)
        return


async def _register_card_webhook(runtime: Runtime) -> None:
    """In sandbox mode, the installation's card provider is the mounted emulator too."""
    card = runtime.directory.card
    if card is None:
        return
    try:
        async with _one_process_at_a_time(runtime, f"ensure_webhook:{card.name}"):
            status = await ensure_webhook(
                runtime.sessions, card, url=runtime.urls.webhook(card.name), box=runtime.box
            )
    except Exception as exc:
        log.error("could not register the sandbox %s webhook: %s", card.name, exc)
        return
    runtime.webhook_secrets.forget()
    log.info("webhook %s registered for %s", status.endpoint_id, status.url)


async def _check_emulator_connections(runtime: Runtime) -> None:
    """Organisations connected to the emulator (the demo's Danish business, sign-ups) whose
    connection was not checked yet: check it and register its webhook, now that we answer."""
    async with runtime.read_sessions(info=scoped_to(ALL)) as session:
        waiting = await connections.unchecked(session, mode="sandbox")
    for organisation_id, provider in waiting:
        try:
            async with _one_process_at_a_time(runtime, f"connect:{organisation_id}:{provider}"):
                outcome = await connecting.check_and_register(
                    runtime.sessions,
                    runtime.directory,
                    urls=runtime.urls,
                    box=runtime.box,
                    organisation_id=organisation_id,
                    provider=provider,
                )
        except Exception as exc:
            log.error(
                "could not connect organisation %s to the %s emulator: %s",
                organisation_id,
                provider,
                exc,
            )
            continue
        runtime.webhook_secrets.forget()
        log.info(
            "organisation %s: %s emulator connection %s", organisation_id, provider, outcome.ok
        )


@asynccontextmanager
async def _one_process_at_a_time(runtime: Runtime, name: str) -> AsyncIterator[None]:
    """On PostgreSQL, a session advisory lock: several web processes starting together would
    otherwise each see no registration, and each register one (or delete the other's)."""
    if runtime.engine.dialect.name != "postgresql":
        yield
        return
    key = int.from_bytes(
        blake2b(f"payrequest:{name}".encode(), digest_size=8).digest(), "big", signed=True
    )
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        await connection.commit()
        try:
            yield
        finally:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            await connection.commit()


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
