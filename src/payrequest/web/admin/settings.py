"""Settings: the organisation's profile and settings, what this process runs with, the webhook
registration, and a webhook round trip.

The organisation's profile (name, organisation number, address, default language) and its
settings (request lifetime, long-living approval, part payments in the portal, automatic
credit, SMS sender id, portal accent colour) are kept in the database and an owner edits them
here (organisations.profile). The installation's settings
come from the environment (12-factor); the page shows them, with secrets masked, and names the
variable that sets each one, and does not change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import SecretStr

from payrequest.config import ENV_PREFIX, ProviderMode, Settings
from payrequest.connections import service as connections
from payrequest.errors import ValidationFailed
from payrequest.inbound import check as webhook_check
from payrequest.inbound import registrations, setup
from payrequest.inbound.setup import ensure_webhook
from payrequest.kit.clock import utcnow
from payrequest.kit.markets import COUNTRY_CURRENCY
from payrequest.organisations import profile as organisation_profile
from payrequest.organisations import read as organisation_read
from payrequest.organisations.models import LOCALES
from payrequest.providers import checks
from payrequest.providers.base import ProviderError
from payrequest.providers.vipps.account import has_partner_keys
from payrequest.providers.vipps.factory import vipps_base_url
from payrequest.ratelimit import service as ratelimit
from payrequest.runtime import Runtime
from payrequest.users.members import Member
from payrequest.web import i18n
from payrequest.web.admin.request_forms import duration_label
from payrequest.web.auth import WRITERS, Owner, StaffUser, Writer
from payrequest.web.deps import AsyncSession, ReadSessionDep, RuntimeDep, SettingsDep
from payrequest.web.flash import flash
from payrequest.web.render import render
from payrequest.web.webhooks import FOREIGN_KEY, REJECTED_KEY

router = APIRouter()
MASK = "••••"
SHOWN = 4  # leading characters of a secret shown, and only when it is at least 3 × as long
TEST_WAIT = 10.0  # seconds the webhook test waits for its events


def mask(secret: str | SecretStr | None) -> str:
    """A secret as it may be shown: its first 4 characters and `••••`, never the whole value.

    Short secrets (under 12 characters) show nothing but the mask, so at most a third of any
    secret is ever revealed. An unset or empty secret is "" (the page says "not set").
    """
    if secret is None:
        return ""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not value:
        return ""
    if len(value) < SHOWN * 3:
        return MASK
    return value[:SHOWN] + MASK


def env_name(*path: str) -> str:
    """`env_name("vipps", "client_id")` → `PAYREQUEST_VIPPS__CLIENT_ID`."""
    return ENV_PREFIX + "__".join(part.upper() for part in path)


@dataclass(frozen=True, slots=True)
class Row:
    label: str
    value: str  # already masked where it is a secret
    env: str
    secret: bool = False


def mode_meaning(mode: ProviderMode) -> str:
    if mode is ProviderMode.sandbox:
        return i18n.gettext(
            "The built-in emulator plays Vipps MobilePay. No money moves and nothing leaves "
            "this server: payments are approved on the emulator's phone page."
        )
    if mode is ProviderMode.test:
        return i18n.gettext(
            "Vipps MobilePay's test environment (apitest.vipps.no), with test credentials and "
            "the test app. No real money moves."
        )
    return i18n.gettext(
        "Live: real customers pay real money through Vipps MobilePay (api.vipps.no)."
    )


def market_label(market: str) -> str:
    """`NO` → `NO · Norway · NOK`, in the reader's language."""
    countries = {
        "NO": i18n.gettext("Norway"),
        "DK": i18n.gettext("Denmark"),
        "FI": i18n.gettext("Finland"),
    }
    country = countries.get(market, market)
    return f"{market} · {country} · {COUNTRY_CURRENCY.get(market, '?')}"


def setting_rows(settings: Settings) -> list[Row]:
    vipps = settings.vipps
    not_set = i18n.gettext("not set")
    return [
        Row(i18n.gettext("Provider mode"), settings.provider_mode.value, env_name("provider_mode")),
        Row(i18n.gettext("Public address"), settings.public_url, env_name("public_url")),
        Row(i18n.gettext("API address"), vipps_base_url(settings), env_name("vipps", "base_url")),
        Row(i18n.gettext("Client id"), vipps.client_id or not_set, env_name("vipps", "client_id")),
        Row(
            i18n.gettext("Client secret"),
            mask(vipps.client_secret) or not_set,
            env_name("vipps", "client_secret"),
            secret=True,
        ),
        Row(
            i18n.gettext("Subscription key"),
            mask(vipps.subscription_key) or not_set,
            env_name("vipps", "subscription_key"),
            secret=True,
        ),
        Row(
            i18n.gettext("Merchant serial number (MSN)"),
            vipps.merchant_serial_number or not_set,
            env_name("vipps", "merchant_serial_number"),
        ),
        Row(
            i18n.gettext("Market"),
            market_label(vipps.market),
            env_name("vipps", "market"),
        ),
        Row(
            i18n.gettext("Long-living approval"),
            i18n.gettext("Yes") if vipps.long_living_approved else i18n.gettext("No"),
            env_name("vipps", "long_living_approved"),
        ),
        Row(
            i18n.gettext("Default request lifetime"),
            duration_label(vipps.default_lifetime_minutes),
            env_name("vipps", "default_lifetime_minutes"),
        ),
    ]


async def _effective_lifetime(runtime: Runtime) -> str:
    lifetime, _long_living = (await runtime.lifetime_to_show()).expires_in(None)
    return duration_label(int(lifetime / timedelta(minutes=1)))


@router.get("/settings", response_class=HTMLResponse)
async def settingsshow_page(
    request: Request,
    user: StaffUser,
    settings: SettingsDep,
    runtime: RuntimeDep,
    session: ReadSessionDep,
) -> HTMLResponse:
    return await show_page(request, user, settings, runtime, session)


async def show_page(
    request: Request,
    user: Member,
    settings: Settings,
    runtime: Runtime,
    session: AsyncSession,
    status_code: int = status.HTTP_200_OK,
    **check: Any,
) -> HTMLResponse:
    url = runtime.webhook_url
    active = await registrations.active(
        session,
        provider=runtime.directory.installation.name,
        merchant_id=runtime.directory.installation.merchant_id,
    )
    profile = await organisation_read.profile(session, user.organisation_id)
    check.setdefault("profile_form", _form_of(profile))
    check.setdefault("options_form", _options_of(profile))
    check.update(await _connection_context(runtime, session, user.organisation_id))
    return render(
        request,
        "settings/index.html",
        status_code=status_code,
        profile=profile,
        profile_market=market_label(profile.market),
        lifetime_label=duration_label(profile.request_lifetime_minutes),
        lifetime_bounds=(organisation_profile.MIN_LIFETIME, organisation_profile.MAX_LIFETIME),
        lifetime_longest=duration_label(organisation_profile.MAX_LIFETIME),
        installation_sms_sender=settings.sms.sender,
        locales=LOCALES,
        mode=settings.provider_mode.value,
        mode_meaning=mode_meaning(settings.provider_mode),
        rows=setting_rows(settings),
        effective_lifetime=await _effective_lifetime(runtime),
        configured_lifetime=duration_label(profile.request_lifetime_minutes),
        webhook_url=url,
        registrations=active,
        registered=[r for r in active if r.url == url],
        production=settings.provider_mode is ProviderMode.production,
        can_write=user.role in WRITERS,
        is_owner=user.role == "owner",
        **check,
    )


async def _connection_context(
    runtime: Runtime, session: AsyncSession, organisation_id: int
) -> dict[str, Any]:
    """The organisation's own accounts (of the default provider and, where the installation
    takes cards, of the card provider), and whether the installation's connections (the
    environment's) are the ones its payments use: only then are their sections shown."""
    default, card = runtime.providers.default_name, runtime.providers.card_name
    connection = await connections.current(session, default)
    card_connection = await connections.current(session, card) if card else None
    modes = dict(connection_modes(runtime))
    return {
        "connection": connection,
        "uses_installation": await runtime.directory.uses_installation(organisation_id),
        "connection_modes": list(modes.items()),
        "connection_markets": [(m, market_label(m)) for m in ("NO", "DK", "FI")],
        "connection_mode_label": modes.get(connection.mode, connection.mode) if connection else "",
        "connection_market_label": market_label(connection.details.get("market", ""))
        if connection
        else "",
        "connection_webhook_url": runtime.urls.connection_webhook(
            connection.provider, connection.webhook_token
        )
        if connection
        else "",
        "partner_keys": has_partner_keys(runtime.settings),
        "takes_cards": card is not None,
        "card_connection": card_connection,
        "card_uses_installation": card is not None
        and await runtime.directory.uses_installation(organisation_id, card),
        "card_connection_mode_label": modes.get(card_connection.mode, card_connection.mode)
        if card_connection
        else "",
        "card_connection_webhook_url": runtime.urls.connection_webhook(
            card_connection.provider, card_connection.webhook_token
        )
        if card_connection
        else "",
    }


async def _installation_only(runtime: Runtime, user: Member) -> None:
    """The installation's connection is looked after by the organisations that use it."""
    if not await runtime.directory.uses_installation(user.organisation_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND)


def connection_modes(runtime: Runtime) -> list[tuple[str, str]]:
    """The modes an organisation may connect in, with their words: an installation on the
    emulator connects to the emulator; any other to the test or the live API."""
    if runtime.settings.provider_mode is ProviderMode.sandbox:
        return [("sandbox", i18n.gettext("Emulator (test, no money)"))]
    return [
        ("test", i18n.gettext("Test environment")),
        ("production", i18n.gettext("Production (real money)")),
    ]


def _form_of(profile: organisation_read.Profile) -> organisation_profile.ProfileEdit:
    return organisation_profile.ProfileEdit(
        name=profile.name,
        organisation_number=profile.organisation_number,
        address=profile.address,
        default_locale=profile.default_locale,
    )


@router.post("/settings/organisation", response_class=HTMLResponse)
async def update_profile(
    request: Request,
    user: Owner,
    settings: SettingsDep,
    runtime: RuntimeDep,
    name: Annotated[str, Form()] = "",
    organisation_number: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    default_locale: Annotated[str, Form()] = "",
) -> Response:
    """An owner saves the organisation's profile; a value that breaks a rule shows the form
    again with what was typed and why (422), and nothing is saved."""
    edit = organisation_profile.ProfileEdit(name, organisation_number, address, default_locale)
    try:
        async with runtime.sessions() as session, session.begin():
            await organisation_profile.update(session, actor_id=user.id, edit=edit)
    except ValidationFailed as exc:
        async with runtime.read_sessions() as session:
            return await show_page(
                request,
                user,
                settings,
                runtime,
                session,
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                profile_form=edit,
                profile_error=i18n.error_text(exc),
                profile_field=exc.field,
            )
    flash(request, i18n.gettext("The organisation's profile is saved."))
    return RedirectResponse("/settings#organisation", status_code=status.HTTP_303_SEE_OTHER)


def _options_of(profile: organisation_read.Profile) -> organisation_profile.SettingsEdit:
    return organisation_profile.SettingsEdit(
        request_lifetime_minutes=str(profile.request_lifetime_minutes),
        long_living_approved=profile.long_living_approved,
        portal_partial_payments=profile.portal_partial_payments,
        auto_apply_credit=profile.auto_apply_credit,
        sms_sender=profile.sms_sender or "",
        brand_colour=profile.brand_colour or "",
    )


@router.post("/settings/organisation/settings", response_class=HTMLResponse)
async def update_organisation_settings(
    request: Request,
    user: Owner,
    settings: SettingsDep,
    runtime: RuntimeDep,
    request_lifetime_minutes: Annotated[str, Form(max_length=20)] = "",
    long_living_approved: Annotated[bool, Form()] = False,
    portal_partial_payments: Annotated[bool, Form()] = False,
    auto_apply_credit: Annotated[bool, Form()] = False,
    sms_sender: Annotated[str, Form(max_length=100)] = "",
    brand_colour: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """An owner saves the organisation's settings; they apply to its next request, SMS and
    portal page at once (this process forgets what it cached; another process looks again
    within seconds). A value that breaks a rule shows the form again (422), nothing saved."""
    edit = organisation_profile.SettingsEdit(
        request_lifetime_minutes=request_lifetime_minutes,
        long_living_approved=long_living_approved,
        portal_partial_payments=portal_partial_payments,
        auto_apply_credit=auto_apply_credit,
        sms_sender=sms_sender,
        brand_colour=brand_colour,
    )
    try:
        async with runtime.sessions() as session, session.begin():
            await organisation_profile.update_settings(session, actor_id=user.id, edit=edit)
    except ValidationFailed as exc:
        async with runtime.read_sessions() as session:
            return await show_page(
                request,
                user,
                settings,
                runtime,
                session,
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                options_form=edit,
                options_error=i18n.error_text(exc),
                options_field=exc.field,
            )
    runtime.directory.forget(user.organisation_id)
    runtime.sms.forget(user.organisation_id)
    flash(request, i18n.gettext("The organisation's settings are saved."))
    return RedirectResponse(
        "/settings#organisation-settings", status_code=status.HTTP_303_SEE_OTHER
    )


@dataclass(frozen=True, slots=True)
class Shown:
    """A finding of the check as the page shows it, in the reader's language."""

    key: str
    ok: bool | None
    text: str
    said: str


@router.post("/settings/check", response_class=HTMLResponse)
async def check_connection(
    request: Request,
    user: Writer,
    settings: SettingsDep,
    runtime: RuntimeDep,
    session: ReadSessionDep,
) -> HTMLResponse:
    """The same check as `payrequest vipps check` (without the round trip: Test the webhook
    does that), shown on the page; outside production it makes throw-away payments."""
    await _installation_only(runtime, user)
    report = await runtime.check_provider()
    language = i18n.current_language()
    findings = [Shown(f.key, f.ok, checks.shown(language, f), f.said) for f in report.findings]
    foreign = [hook.endpoint_id for hook in report.listed.foreign] if report.listed else []
    return await show_page(
        request, user, settings, runtime, session, findings=findings, foreign=foreign
    )


@router.post("/settings/webhook/remove-foreign")
async def remove_foreign(
    request: Request,
    user: Owner,
    runtime: RuntimeDep,
    endpoint_ids: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI form default
) -> RedirectResponse:
    """Remove the registrations for our address whose secret we do not hold, that the check
    listed and an owner chose."""
    await _installation_only(runtime, user)
    try:
        removed = await setup.remove_foreign(
            runtime.sessions,
            runtime.directory.installation,
            url=runtime.webhook_url,
            endpoint_ids=endpoint_ids,
            actor_id=user.id,
        )
    except ProviderError as exc:
        flash(
            request,
            i18n.gettext("The registrations could not be removed: {reason}").format(
                reason=provider_reason(exc)
            ),
            "error",
        )
        return _back()
    if removed:
        flash(
            request, i18n.gettext("Removed the registrations {ids}.").format(ids=", ".join(removed))
        )
    else:
        flash(request, i18n.gettext("None of these registrations was left to remove."))
    return _back()


def _back() -> RedirectResponse:
    return RedirectResponse("/settings#webhook", status_code=status.HTTP_303_SEE_OTHER)


def provider_reason(exc: ProviderError) -> str:
    """A refusal in the reader's language (e.g. "the client secret is invalid"), followed by
    the provider's own words for a support case (e.g. "invalid_client: AADSTS7000215: ...")."""
    reason = i18n.problem(exc)
    return f"{reason} ({exc.detail})" if exc.detail else reason


@router.post("/settings/webhook/register")
async def register_webhook(request: Request, user: Owner, runtime: RuntimeDep) -> RedirectResponse:
    await _installation_only(runtime, user)
    url = runtime.webhook_url
    try:
        result = await ensure_webhook(
            runtime.sessions,
            runtime.directory.installation,
            url=url,
            box=runtime.box,
            actor_id=user.id,
        )
    except ProviderError as exc:
        flash(
            request,
            i18n.gettext("The webhook could not be registered: {reason}").format(
                reason=provider_reason(exc)
            ),
            "error",
        )
        return _back()
    runtime.webhook_secrets.forget()
    if result.created:
        message = i18n.gettext("Webhook registered for {url} (endpoint {id}).")
    else:
        message = i18n.gettext("The webhook was already registered for {url} (endpoint {id}).")
    flash(request, message.format(url=url, id=result.endpoint_id))
    if result.removed:
        flash(
            request,
            i18n.gettext("Removed stale registrations: {ids}").format(
                ids=", ".join(result.removed)
            ),
        )
    return _back()


@router.post("/settings/webhook/test")
async def test_webhook(request: Request, user: Writer, runtime: RuntimeDep) -> RedirectResponse:
    """Create a 1-unit QR payment, cancel it, and wait for its webhooks (never in production)."""
    await _installation_only(runtime, user)
    settings = runtime.settings
    if settings.provider_mode is ProviderMode.production:
        flash(
            request,
            i18n.gettext(
                "The webhook test is not available in production mode: it would create a real "
                "payment. Use `payrequest vipps check --no-round-trip` to check the credentials "
                "and the registration."
            ),
            "error",
        )
        return _back()
    url = runtime.webhook_url
    async with runtime.read_sessions() as session:
        active = await registrations.active(
            session,
            provider=runtime.directory.installation.name,
            merchant_id=runtime.directory.installation.merchant_id,
        )
    if not any(r.url == url for r in active):
        flash(
            request,
            i18n.gettext("No webhook is registered for {url}. Register it first.").format(url=url),
            "error",
        )
        return _back()
    started_at = utcnow()
    try:
        trip = await webhook_check.round_trip(
            runtime.read_sessions,
            runtime.directory.installation,
            market=settings.vipps.market,
            wait=TEST_WAIT,
        )
    except ProviderError as exc:
        flash(
            request,
            i18n.gettext("The test payment could not be made: {reason}").format(
                reason=provider_reason(exc)
            ),
            "error",
        )
        return _back()
    if trip.complete:
        flash(
            request,
            i18n.gettext("Webhook test passed: received {events} in {ms} ms.").format(
                events=webhook_check.shown(trip.received), ms=trip.elapsed_ms
            ),
        )
        return _back()
    async with runtime.read_sessions() as session:
        rejected = await ratelimit.count(session, key=REJECTED_KEY, since=started_at)
        foreign = await ratelimit.count(session, key=FOREIGN_KEY, since=started_at)
    flash(request, _failure(trip, url=url, rejected=rejected, foreign=foreign), "error")
    return _back()


def _failure(trip: webhook_check.RoundTrip, *, url: str, rejected: int, foreign: int) -> str:
    seconds = f"{TEST_WAIT:.0f}"
    if trip.received:
        return i18n.gettext(
            "Webhook test incomplete: received {events} but not {missing} within {s} s."
        ).format(
            events=webhook_check.shown(trip.received),
            missing=webhook_check.shown(trip.missing),
            s=seconds,
        )
    if foreign:
        return i18n.gettext(
            "Webhook test failed: {n} webhook(s) arrived during the test, signed with a webhook "
            "registration we do not hold the secret of. Register the webhook again, and check "
            "the connection to remove that registration."
        ).format(n=foreign)
    if rejected:
        return i18n.gettext(
            "Webhook test failed: {n} webhook(s) arrived during the test but their signature "
            "was rejected. Register the webhook again so that the stored secret matches."
        ).format(n=rejected)
    return i18n.gettext(
        "Webhook test failed: no webhook for {reference} arrived within {s} s. Check that "
        "{url} is reachable from Vipps MobilePay and that this server is running."
    ).format(reference=trip.reference, s=seconds, url=url)
