"""Who is asking: the signed-in staff user, their role, and CSRF protection.

The signed cookie carries only the token of a sign-in session kept on the server
(sessions.service): signing out, a password change or a deactivation ends that session, and
every copy of the cookie stops working at once.

A session working in an organisation the operator suspended is not signed in while the
suspension lasts (its pages answer 403 saying why); it is kept, so reactivating the
organisation lets its staff back as they were.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from payrequest.db.scope import enter
from payrequest.errors import N_, PayrequestError
from payrequest.kit.ids import random_token
from payrequest.organisations import read as organisation_read
from payrequest.organisations import service as organisations
from payrequest.sessions import service as sessions
from payrequest.users import service as users
from payrequest.users.members import Member
from payrequest.web import i18n
from payrequest.web.deps import RuntimeDep

SESSION_TOKEN = "staff_session"  # noqa: S105  (the key under which the cookie keeps it)
SESSION_CSRF = "csrf"
CSRF_HEADER = "x-csrf-token"
# Roles that may change things; `readonly` may only look.
WRITERS = frozenset({"owner", "staff"})
SUSPENDED = "suspended_organisation"  # request.state: the name of the one the session is in


class OrganisationSuspended(PayrequestError):
    """The signed-in person works in an organisation the operator suspended."""

    status_code = 403
    code = "organisation_suspended"


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = random_token(24)
        request.session[SESSION_CSRF] = token
    return token


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "surrogatepass"))


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a state change without the session's token or from another site."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, i18n.gettext("Cross-site request refused"))
    expected = request.session.get(SESSION_CSRF)
    given = submitted or request.headers.get(CSRF_HEADER)
    # as bytes: compare_digest raises TypeError on a non-ASCII str (a typed "٣" gave 500)
    if not isinstance(expected, str) or not given or not _same(expected, given):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, i18n.gettext("Missing or invalid CSRF token")
        )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def session_token(request: Request) -> str:
    token = request.session.get(SESSION_TOKEN)
    return token if isinstance(token, str) else ""


async def current_user(request: Request, runtime: RuntimeDep) -> Member | None:
    """The signed-in person as a member of the organisation their session works in, read in
    a short session of its own (never the request's). From here on the request acts for that
    organisation (db.scope). Sets `request.state.sign_in_session_id` (kept on a password
    change) and `request.state.organisations` (where the person may work: the header's
    switcher). None, with `request.state.suspended_organisation` set, for a session working
    in a suspended organisation (its cookie stays)."""
    token = session_token(request)
    if not token:
        return None
    async with runtime.read_sessions() as session:
        alive = await sessions.alive(session, token=token, kind="staff")
        user = await users.get(session, alive.user_id) if alive and alive.user_id else None
        membership = None
        organisation = None
        if alive is not None and user is not None and alive.organisation_id is not None:
            membership = await organisations.membership(
                session, user_id=user.id, organisation_id=alive.organisation_id
            )
            organisation = await organisations.find(session, alive.organisation_id)
            # the header's name of the organisation and its switcher (web.render)
            request.state.organisations = await organisation_read.choices(session, user.id)
    if (
        alive is None
        or user is None
        or not user.is_active
        or membership is None
        or not membership.is_active
    ):
        request.session.pop(SESSION_TOKEN, None)
        return None
    if organisation is None or organisation.status != "active":
        request.state.suspended_organisation = organisation.name if organisation else ""
        return None
    request.state.sign_in_session_id = alive.id
    enter(membership.organisation_id)
    return Member.of(user, membership)


async def require_user(request: Request, runtime: RuntimeDep) -> Member:
    """Any signed-in staff member; anonymous visitors are sent to the sign-in page."""
    user = await current_user(request, runtime)
    if user is None and isinstance(getattr(request.state, SUSPENDED, None), str):
        raise OrganisationSuspended(
            N_(  # a PayrequestError's template, translated where it is shown
                "%(name)s is suspended: its staff cannot work in it for now. Contact the "
                "installation's operator."
            ),
            name=getattr(request.state, SUSPENDED),
        )
    if user is None:
        raise HTTPException(
            status.HTTP_303_SEE_OTHER, headers={"Location": f"/login?next={request.url.path}"}
        )
    request.state.user = user
    i18n.set_language(user.locale)
    return user


async def check_form_csrf(request: Request) -> None:
    """The CSRF check for a form post (token in the `csrf` field) or a header call."""
    form = await request.form() if _is_form(request) else None
    submitted = form.get("csrf") if form is not None else None
    check_csrf(request, submitted if isinstance(submitted, str) else None)


async def require_member(
    request: Request, user: Annotated[Member, Depends(require_user)]
) -> Member:
    """Any signed-in user, on a request with a valid CSRF token (their own settings)."""
    await check_form_csrf(request)
    return user


async def require_writer(
    request: Request, user: Annotated[Member, Depends(require_user)]
) -> Member:
    """A signed-in member who may change things, on a request with a valid CSRF token."""
    if user.role not in WRITERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, i18n.gettext("Your role can only view"))
    return await require_member(request, user)


async def require_writer_role(user: Annotated[Member, Depends(require_user)]) -> Member:
    """An owner or staff member (not read-only) on a GET that changes nothing, so without a
    CSRF token: a download of the business's data (an export), the import pages."""
    if user.role not in WRITERS:
        raise HTTPException(status.HTTP_403_FORBIDDEN, i18n.gettext("Your role can only view"))
    return user


async def require_owner(user: Annotated[Member, Depends(require_writer)]) -> Member:
    if user.role != "owner":
        raise HTTPException(status.HTTP_403_FORBIDDEN, i18n.gettext("Only an owner may do this"))
    return user


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


StaffUser = Annotated[Member, Depends(require_user)]
SignedInMember = Annotated[Member, Depends(require_member)]
Writer = Annotated[Member, Depends(require_writer)]
WriterRole = Annotated[Member, Depends(require_writer_role)]
Owner = Annotated[Member, Depends(require_owner)]
