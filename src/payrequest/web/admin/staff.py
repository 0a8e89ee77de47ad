"""Staff management, for owners: who has an account, with which role and since when they
last signed in; invite by email, deactivate and reactivate, send a password reset, change a
role. Each action is one users.commands command (the command line calls the same ones)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from payrequest.errors import PayrequestError
from payrequest.organisations.models import ROLES
from payrequest.users import commands, tokens
from payrequest.users import service as users
from payrequest.users.members import Member
from payrequest.users.models import LOCALES, User
from payrequest.web import i18n
from payrequest.web.admin.password import send_link, signing_key
from payrequest.web.auth import Owner, StaffUser, client_address
from payrequest.web.deps import AsyncSession, ReadSessionDep, RuntimeDep
from payrequest.web.flash import flash
from payrequest.web.render import render

router = APIRouter()
MAX_ID = 2**31 - 1


async def require_owner_reader(user: StaffUser) -> Member:
    """An owner, on a page that only shows (no CSRF token needed for a GET)."""
    if user.role != "owner":
        raise HTTPException(status.HTTP_403_FORBIDDEN, i18n.gettext("Only an owner may do this"))
    return user


OwnerReader = Annotated[Member, Depends(require_owner_reader)]


@router.get("/staff", response_class=HTMLResponse)
async def staff_list(request: Request, user: OwnerReader, session: ReadSessionDep) -> HTMLResponse:
    people = await users.list_users(session)
    return render(request, "staff/list.html", people=people, roles=ROLES, locales=LOCALES)


@router.post("/staff/invite")
async def invite(
    request: Request,
    user: Owner,
    runtime: RuntimeDep,
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "staff",
    locale: Annotated[str, Form()] = "nb",
) -> RedirectResponse:
    """Creates the account and emails its owner a link to choose a password."""
    try:
        async with runtime.sessions() as session, session.begin():
            invited, token = await commands.invite(
                session,
                _actor(request, user),
                key=signing_key(runtime),
                email=email,
                name=name,
                role=role,
                locale=locale,
            )
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return _back()
    if token is None:  # someone with an account already: only the membership is new
        message = i18n.gettext("{email} can now sign in to this organisation too.")
        flash(request, message.format(email=invited.email))
    elif await send_link(runtime, invited, token, tokens.INVITE):
        flash(request, i18n.gettext("{email} is invited by email.").format(email=invited.email))
    else:
        flash(request, _not_sent(invited), "error")
    return _back()


@router.post("/staff/{user_id}/reset")
async def send_reset(
    request: Request, user_id: int, user: Owner, runtime: RuntimeDep
) -> RedirectResponse:
    try:
        async with runtime.sessions() as session, session.begin():
            found = await commands.reset_link(
                session, _actor(request, user), key=signing_key(runtime), user_id=_id(user_id)
            )
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
        return _back()
    if found is not None and await send_link(runtime, found[0], found[1], tokens.RESET):
        message = i18n.gettext("A link to set a new password is sent to {email}.")
        flash(request, message.format(email=found[0].email))
    elif found is not None:
        flash(request, _not_sent(found[0]), "error")
    return _back()


@router.post("/staff/{user_id}/deactivate")
async def deactivate(
    request: Request, user_id: int, user: Owner, runtime: RuntimeDep
) -> RedirectResponse:
    async def act(session: AsyncSession) -> Member:
        return await commands.deactivate(session, _actor(request, user), user_id=_id(user_id))

    return await _run(request, runtime, act, i18n.gettext("{email} can no longer sign in."))


@router.post("/staff/{user_id}/reactivate")
async def reactivate(
    request: Request, user_id: int, user: Owner, runtime: RuntimeDep
) -> RedirectResponse:
    async def act(session: AsyncSession) -> Member:
        return await commands.reactivate(session, _actor(request, user), user_id=_id(user_id))

    return await _run(request, runtime, act, i18n.gettext("{email} can sign in again."))


@router.post("/staff/{user_id}/role")
async def set_role(
    request: Request,
    user_id: int,
    user: Owner,
    runtime: RuntimeDep,
    role: Annotated[str, Form()] = "",
) -> RedirectResponse:
    async def act(session: AsyncSession) -> Member:
        return await commands.set_role(
            session, _actor(request, user), user_id=_id(user_id), role=role
        )

    return await _run(request, runtime, act, i18n.gettext("The role of {email} is changed."))


async def _run(
    request: Request,
    runtime: RuntimeDep,
    act: Callable[[AsyncSession], Awaitable[Member]],
    done: str,
) -> RedirectResponse:
    try:
        async with runtime.sessions() as session, session.begin():
            changed = await act(session)
    except PayrequestError as exc:
        flash(request, i18n.error_text(exc), "error")
    else:
        flash(request, done.format(email=changed.email))
    return _back()


def _actor(request: Request, user: Member) -> commands.Actor:
    return commands.Actor(
        user.id, client_address(request), getattr(request.state, "sign_in_session_id", None)
    )


def _id(user_id: int) -> int:
    return user_id if 0 < user_id <= MAX_ID else 0  # an impossible id: the command's NotFound


def _not_sent(user: User) -> str:
    return i18n.gettext(
        "The email to {email} could not be sent (is an SMTP server configured?)."
    ).format(email=user.email)


def _back() -> RedirectResponse:
    return RedirectResponse("/staff", status_code=status.HTTP_303_SEE_OTHER)
