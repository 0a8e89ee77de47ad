"""Settings → the organisation's own accounts at its providers: an owner connects one (the
form is the provider's: providers/<name>/account.py), and checks it again. Connecting stores
the account (secrets sealed), checks it live and registers its own webhook address
(connecting.py); a form that breaks a rule is shown again with the reason (422)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from payrequest import connecting
from payrequest.connections.service import NewConnection
from payrequest.errors import PayrequestError, ValidationFailed
from payrequest.providers import checks
from payrequest.providers.factory import account_kind
from payrequest.runtime import Runtime
from payrequest.users.members import Member
from payrequest.web import i18n
from payrequest.web.admin.settings import connection_modes, show_page
from payrequest.web.auth import Owner
from payrequest.web.deps import RuntimeDep, SettingsDep
from payrequest.web.flash import flash

router = APIRouter()
# The section of the settings page each provider's connection is shown in.
DEFAULT_ANCHOR, CARD_ANCHOR = "connection", "card-connection"


@router.post("/settings/connection", response_class=Response)
async def connect(
    request: Request,
    user: Owner,
    settings: SettingsDep,
    runtime: RuntimeDep,
    mode: Annotated[str, Form()] = "",
    market: Annotated[str, Form()] = "",
    merchant_serial_number: Annotated[str, Form()] = "",
    client_id: Annotated[str, Form()] = "",
    client_secret: Annotated[str, Form()] = "",
    subscription_key: Annotated[str, Form()] = "",
) -> Response:
    """An owner connects the organisation's own account at the default provider."""
    form = {
        "market": market,
        "merchant_serial_number": merchant_serial_number,
        "client_id": client_id,
        "client_secret": client_secret,
        "subscription_key": subscription_key,
    }
    return await _connect(request, user, runtime, runtime.providers.default_name, mode, form)


@router.post("/settings/connection/check")
async def check_own_connection(request: Request, user: Owner, runtime: RuntimeDep) -> Response:
    return await _check(request, user, runtime, runtime.providers.default_name)


@router.post("/settings/card-connection", response_class=Response)
async def connect_card(
    request: Request,
    user: Owner,
    runtime: RuntimeDep,
    mode: Annotated[str, Form()] = "",
    secret_key: Annotated[str, Form()] = "",
    account_id: Annotated[str, Form()] = "",
) -> Response:
    """An owner connects the organisation's own account at the card provider."""
    name = _card(runtime)
    form = {"secret_key": secret_key, "account_id": account_id}
    return await _connect(request, user, runtime, name, mode, form)


@router.post("/settings/card-connection/check")
async def check_card_connection(request: Request, user: Owner, runtime: RuntimeDep) -> Response:
    return await _check(request, user, runtime, _card(runtime))


def _card(runtime: Runtime) -> str:
    name = runtime.providers.card_name
    if name is None:  # this installation takes no cards
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return name


def _is_default(runtime: Runtime, provider: str) -> bool:
    """Whether `provider` is the default one (its section: "Your sales unit"), else the card
    provider (its section: "Card payments")."""
    return provider == runtime.providers.default_name


async def _connect(
    request: Request,
    user: Member,
    runtime: Runtime,
    provider: str,
    mode: str,
    form: dict[str, str],
) -> Response:
    """Read the provider's form, store the connection, then check it and register its
    webhook; a form that breaks a rule is shown again with the reason (422)."""
    allowed = {value for value, _ in connection_modes(runtime)}
    try:
        if mode not in allowed:
            raise ValidationFailed("This installation cannot connect in that mode", field="mode")
        account = account_kind(provider).read(form, mode=mode, settings=runtime.settings)
        async with runtime.sessions() as session, session.begin():
            await connecting.store(
                session,
                NewConnection(provider, mode, account),
                box=runtime.box,
                organisation_id=user.organisation_id,
                actor_id=user.id,
            )
    except PayrequestError as exc:
        prefix = "" if _is_default(runtime, provider) else "card_"
        async with runtime.read_sessions() as session:
            return await show_page(
                request,
                user,
                runtime.settings,
                runtime,
                session,
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                **{f"{prefix}connection_error": i18n.error_text(exc)},
            )
    return await _check(request, user, runtime, provider)


async def _check(request: Request, user: Member, runtime: Runtime, provider: str) -> Response:
    try:
        outcome = await connecting.check_and_register(
            runtime.sessions,
            runtime.directory,
            urls=runtime.urls,
            box=runtime.box,
            organisation_id=user.organisation_id,
            provider=provider,
            actor_id=user.id,
        )
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        runtime.webhook_secrets.forget()
        language = i18n.current_language()
        for finding in outcome.report.findings:
            if finding.ok is False:
                flash(request, checks.shown(language, finding), "error")
        if outcome.ok:
            flash(request, i18n.gettext("Your account is connected and its webhook registered."))
        elif outcome.error and outcome.report.listed is not None:
            flash(
                request,
                i18n.gettext("The webhook could not be registered: {reason}").format(
                    reason=outcome.error
                ),
                "error",
            )
    anchor = DEFAULT_ANCHOR if _is_default(runtime, provider) else CARD_ANCHOR
    return RedirectResponse(f"/settings#{anchor}", status_code=status.HTTP_303_SEE_OTHER)
