"""Forms whose answer shows a secret once (a new API key, a webhook endpoint's signing secret,
a rotated one) answer the POST with the page itself: the secret must not outlive that answer
in a redirect or the session cookie. A browser's reload would send such a form again and make
a second key or rotate the secret again; so each such form carries a token of its own
(`once_token()` in the template), and a token sent a second time is refused
(`first_use`): the handler then sends the browser back to the list instead."""

from __future__ import annotations

import secrets

from fastapi import Request

KEY = "forms_sent"
REMEMBERED = 20  # the latest tokens a session keeps


def once_token() -> str:
    return secrets.token_urlsafe(12)


def first_use(request: Request, token: str) -> bool:
    """True the first time this session sends `token` (an empty one never is)."""
    sent = [t for t in request.session.get(KEY) or [] if isinstance(t, str)]
    if not token or token in sent:
        return False
    request.session[KEY] = [*sent, token][-REMEMBERED:]
    return True
