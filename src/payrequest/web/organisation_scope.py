"""Each request starts acting for no organisation (ASGI middleware `StartUnscoped`).

Who asks decides: `web.auth` enters the staff member's organisation, the portal the
customer's, the webhook route the organisation a payment belongs to (db.scope). Until then a
query on business data raises instead of reading anyone's rows, whatever the process (or a
test) was doing around the server.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from payrequest.db.scope import nobody


class StartUnscoped:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with nobody():
            await self.app(scope, receive, send)
