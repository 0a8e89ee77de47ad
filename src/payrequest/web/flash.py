"""One-time messages shown on the next page (after a redirect)."""

from __future__ import annotations

from fastapi import Request

KEY = "flash"


def flash(request: Request, message: str, kind: str = "ok") -> None:
    messages = request.session.get(KEY) or []
    messages.append({"kind": kind, "text": message})
    request.session[KEY] = messages[-5:]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    messages = request.session.pop(KEY, None) or []
    return [m for m in messages if isinstance(m, dict)]
