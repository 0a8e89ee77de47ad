"""Session secret, signed-in user, CSRF tokens."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.kit.ids import random_token
from payrequest.users.models import User

SESSION_USER = "user_id"
SESSION_CSRF = "csrf"


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = random_token(24)
        request.session[SESSION_CSRF] = token
    return token


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a state change without the session's token or from another site."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Cross-site request refused")
    expected = request.session.get(SESSION_CSRF)
    given = submitted or request.headers.get("x-csrf-token")
    if not isinstance(expected, str) or not given or not hmac.compare_digest(expected, given):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Missing or invalid CSRF token")


async def current_user(request: Request, session: AsyncSession) -> User | None:
    user_id = request.session.get(SESSION_USER)
    if not isinstance(user_id, int):
        return None
    user = await session.get(User, user_id)
    if user is None or not user.is_active:
        request.session.pop(SESSION_USER, None)
        return None
    return user
