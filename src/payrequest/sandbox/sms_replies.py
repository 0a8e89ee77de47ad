"""Replying to an SMS on the phone simulator, as a customer answers a reminder ("STOP").

- `POST /phone/{msisdn}/sms/{sms_id}/reply` with the form field `text` (the phone page's
  "Reply" form under each message; guarded like the phone's other buttons) -> the phone's live
  fragment, the reply shown under the message with what became of it.

The emulator keeps the reply and hands it to whoever mounted it: `create_sandbox_app(...,
on_sms_reply=...)` takes an `SmsReplyHandler`, called with the phone's number (digits, e.g.
`4791234567`), the text and the reply's id (`sandbox-reply-<n>`, unique in this emulator's
state). payrequest passes one that applies the reply as a reply by SMS from that number
(a stop word opts the customer out of reminders). Standalone (`payrequest sandbox`) there is
none: the reply stays on the phone, and the page says nobody received it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from payrequest.sandbox.access import GUARDED
from payrequest.sandbox.gateway import sandbox_of
from payrequest.sandbox.phone import live_context, phone_number, templates

router = APIRouter(tags=["phone simulator"])
# (msisdn, text, reply id) -> None once the reply is received; an exception: it was not.
SmsReplyHandler = Callable[[str, str, str], Awaitable[None]]
MAX_REPLY = 1600
DEFAULT_REPLY = "STOP"


def reply_handler(request: Request) -> SmsReplyHandler | None:
    handler: SmsReplyHandler | None = getattr(request.app.state, "sms_reply_handler", None)
    return handler


@router.post(
    "/phone/{msisdn}/sms/{sms_id}/reply", response_class=HTMLResponse, dependencies=GUARDED
)
async def reply_to_sms(
    msisdn: str, sms_id: int, request: Request, text: Annotated[str, Form()] = DEFAULT_REPLY
) -> Response:
    sb = sandbox_of(request)
    number = phone_number(msisdn)
    if sb.store.sms(number, sms_id) is None:
        raise HTTPException(404, "No such message on this phone")
    reply = text.strip()[:MAX_REPLY]
    if not reply:
        context = live_context(request, number, "Write a reply first")
        return templates.TemplateResponse(request, "_live.html", context)
    reply_id = sb.store.add_sms_reply(number, sms_id, reply, sb.clock.now().isoformat())
    handler = reply_handler(request)
    if handler is None:
        result = "Not received: nobody listens for replies to this emulator"
    else:
        try:
            await handler(number, reply, f"sandbox-reply-{reply_id}")
        except Exception as exc:  # the receiver's failure is shown, not the emulator's
            result = f"Not received: {type(exc).__name__}"
        else:
            result = "Received"
    sb.store.set_sms_reply_result(reply_id, result)
    sb.changed()
    context = live_context(request, number, f"Reply sent. {result}.")
    return templates.TemplateResponse(request, "_live.html", context)
