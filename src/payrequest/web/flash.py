"""One-time messages shown on the next page (after a redirect)."""

from __future__ import annotations

from fastapi import Request

KEY = "flash"


def flash(request: Request, message: str, kind: str = "ok", *, topic: str | None = None) -> None:
    """`topic`: a live topic (`request:<reference>`); the page drops the message once a
    live update about it changes what the page shows (static/live.js)."""
    messages = request.session.get(KEY) or []
    messages.append({"kind": kind, "text": message, **({"topic": topic} if topic else {})})
    request.session[KEY] = messages[-5:]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    messages = request.session.pop(KEY, None) or []
    return [m for m in messages if isinstance(m, dict)]
