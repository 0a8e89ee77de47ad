"""SMS customers send us (replies to reminders): GatewayAPI's webhook, and the emulator's phone.

`POST /webhooks/sms/gatewayapi` (kit.urls.SMS_REPLY_WEBHOOK): GatewayAPI's "MO SMS" webhook
(notify.sms.gatewayapi_replies reads and checks it). Without `PAYREQUEST_SMS__WEBHOOK_SECRET`
the address answers 404: this installation takes no replies from GatewayAPI (GatewayAPI keeps
trying, so replies sent meanwhile arrive once the secret is set). A missing or bad signature
gets 401 and changes nothing; a signed body that is no SMS we can read gets 200 (sent again,
it would be no better); every signed SMS gets 200 once applied, whatever it says.

The emulator's phone (sandbox mode) hands a reply written there to `sandbox_reply_handler`.

Either way the reply is applied by customers.replies.receive_reply, acting for all
organisations: the installation has one number, and a stop word opts out every customer with
the sender's number whatever business they are a customer of.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from payrequest.customers import replies
from payrequest.customers.replies import ReplyApplied
from payrequest.db.scope import ALL, scoped_to
from payrequest.kit import urls
from payrequest.notify.sms import gatewayapi_replies
from payrequest.notify.sms.base import SmsReply
from payrequest.runtime import Runtime
from payrequest.web.deps import RuntimeDep

router = APIRouter()
log = logging.getLogger(__name__)


@router.post(urls.SMS_REPLY_WEBHOOK, include_in_schema=False)
async def gatewayapi_reply(request: Request, runtime: RuntimeDep) -> JSONResponse:
    sms = runtime.settings.sms
    if sms.webhook_secret is None:
        return JSONResponse({"error": "this installation takes no SMS replies"}, status_code=404)
    try:
        reply = gatewayapi_replies.read_reply(
            await request.body(),
            request.headers,
            secret=sms.webhook_secret.get_secret_value(),
            keyword=sms.reply_keyword,
        )
    except gatewayapi_replies.ReplyRejected as exc:
        log.warning("refused an SMS reply webhook: %s", exc)
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    except gatewayapi_replies.ReplyUnreadable as exc:
        log.warning("a signed SMS webhook we cannot read: %s", exc)
        return JSONResponse({"status": "unreadable"})
    applied = await apply_reply(runtime, reply)
    return JSONResponse({"status": "stop" if applied.stop else "ignored"})


async def apply_reply(runtime: Runtime, reply: SmsReply) -> ReplyApplied:
    """Apply one reply in a transaction of its own, acting for all organisations."""
    async with runtime.sessions(info=scoped_to(ALL)) as session, session.begin():
        return await replies.receive_reply(
            session,
            sender=reply.sender,
            text=reply.text,
            gateway=reply.gateway,
            message_id=reply.message_id,
        )


def sandbox_reply_handler(runtime: Runtime) -> Callable[[str, str, str], Awaitable[None]]:
    """What the mounted emulator calls with a reply written on its phone (the shape of
    sandbox.sms_replies.SmsReplyHandler: the phone's number, the text, the reply's id)."""

    async def received(msisdn: str, text: str, reply_id: str) -> None:
        await apply_reply(runtime, SmsReply("sandbox", reply_id, msisdn, text))

    return received
