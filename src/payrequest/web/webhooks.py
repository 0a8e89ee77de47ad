"""`POST /webhooks/vipps`: authenticate, store once, apply, acknowledge.

The signature is checked against the configured public URL over the raw body bytes. A forged
or unreadable request gets 401 and nothing is stored; every genuine event gets 200, even a
duplicate or one we cannot place (a non-2xx would hold back later events for the payment).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from payrequest.inbound import service
from payrequest.providers.base import WebhookRejected
from payrequest.ratelimit import service as ratelimit
from payrequest.runtime import Runtime
from payrequest.web.nudge import wake

router = APIRouter()
log = logging.getLogger(__name__)
# Forged webhooks are counted (for the operations page), never stored.
REJECTED_KEY = "webhook:rejected"


@router.post("/webhooks/vipps", include_in_schema=False)
async def vipps_webhook(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    body = await request.body()
    headers = dict(request.headers)
    async with runtime.sessions() as session, session.begin():
        secrets = await runtime.webhook_secrets.get(session)
        try:
            event = runtime.provider.parse_webhook(body, headers, secrets=secrets)
        except WebhookRejected as exc:
            log.warning(
                "rejected webhook from %s: %s",
                request.client.host if request.client else "?",
                exc,
            )
            # Counted in this transaction (it holds SQLite's write lock, so a second session
            # would wait on it); leaving the block commits the count with the 401.
            await ratelimit.hit(session, key=REJECTED_KEY)
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        received = await service.receive(
            session, provider=runtime.provider.name, event=event, body=body, headers=headers
        )
    wake(request)  # a capture may be due; browsers should hear of it now
    return JSONResponse({"status": received.status})
