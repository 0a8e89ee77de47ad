"""Incoming SMS from GatewayAPI ("MO SMS"): what a customer sends to our number, read and checked.

Source: GatewayAPI's REST API documentation, "Webhooks" → "MO SMS (Receiving SMS'es)" and
"Authentication token" (the public repository onlinecity/gatewayapi-docs, `docs/rest.rst`).
What we rely on:

- GatewayAPI POSTs one JSON object per incoming SMS to the webhook's URL. Its fields: `id` (the
  incoming message's id, an integer), `msisdn` (the sender's number with country code, digits,
  an integer), `receiver` (our short code or number), `message` (the text; on a shared short
  code it starts with the keyword we lease there), `senttime` (Unix time), `webhook_label`, and
  rarely used optional ones (`sender`, `mcc`, `mnc`, `encoding`, ...), which we do not read.
- When the webhook has an "authentication token" (a secret we choose in GatewayAPI's
  dashboard), each request carries a JWT in the `X-Gwapi-Signature` header, made with HS256
  and that token. Its claims are the notification's own fields. The JWT does not cover the
  body's bytes, so we take `id`, `msisdn` and (when present) `message` from the verified
  claims and refuse a body that says otherwise.
- An answer other than 2xx within 60 seconds counts as failed, and GatewayAPI sends the same
  SMS again (after 60 s, doubling up to every 40 minutes): the same `id` can arrive more than
  once, so whoever applies a reply must do so idempotently.

Only HS256 is accepted: a token naming another algorithm (`none`, RS256) is refused. The secret
is `PAYREQUEST_SMS__WEBHOOK_SECRET` (config.SmsSettings.webhook_secret).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import jwt

from payrequest.notify.sms.base import SmsReply

NAME = "gatewayapi"
SIGNATURE_HEADER = "x-gwapi-signature"
ALGORITHM = "HS256"
MAX_TEXT = 1600  # longer than any concatenated SMS we would read a word of


class ReplyRejected(Exception):
    """The request is not from GatewayAPI as far as we can tell: no signature, a bad one, or a
    body that does not match it. Answer 401 and change nothing."""


class ReplyUnreadable(Exception):
    """Signed by GatewayAPI, but not an incoming SMS we can read. Acknowledge it (2xx) so it is
    not sent again, and change nothing."""


def read_reply(
    body: bytes, headers: Mapping[str, str], *, secret: str, keyword: str | None = None
) -> SmsReply:
    """The incoming SMS of a webhook request, after checking its signature with `secret`.

    `headers` with lower-case names (as Starlette gives them). `keyword`: the keyword leased on
    a shared short code, taken off the start of the text. Raises ReplyRejected or
    ReplyUnreadable."""
    claims = _verified_claims(headers.get(SIGNATURE_HEADER, ""), secret)
    try:
        fields: Any = json.loads(body)
    except ValueError:
        raise ReplyRejected("the body is not JSON") from None
    if not isinstance(fields, dict):
        raise ReplyRejected("the body is not a JSON object")
    for name in ("id", "msisdn", "message"):
        if name in claims and fields.get(name) != claims[name]:
            raise ReplyRejected(f"the body's {name} is not the one signed")
    message_id, msisdn, text = claims.get("id"), claims.get("msisdn"), fields.get("message")
    if not _whole_number(message_id) or not _whole_number(msisdn):
        raise ReplyUnreadable("no message id or sender number: not an incoming SMS")
    if not isinstance(text, str):
        raise ReplyUnreadable("the incoming SMS has no text")
    return SmsReply(
        gateway=NAME,
        message_id=str(message_id),
        sender=str(msisdn),
        text=_without_keyword(text[:MAX_TEXT], keyword),
    )


def _verified_claims(token: str, secret: str) -> dict[str, Any]:
    if not token:
        raise ReplyRejected(f"no {SIGNATURE_HEADER} header")
    try:
        claims: Any = jwt.decode(token, secret, algorithms=[ALGORITHM])
    except jwt.InvalidTokenError as exc:
        raise ReplyRejected(f"the signature does not verify ({type(exc).__name__})") from None
    if not isinstance(claims, dict):
        raise ReplyRejected("the signature carries no claims")
    return claims


def _whole_number(value: object) -> bool:
    """An id or a number as GatewayAPI writes it: a JSON integer (a digit string is taken too)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and value.isdigit())


def _without_keyword(text: str, keyword: str | None) -> str:
    words = text.split(maxsplit=1)
    if keyword and words and words[0].casefold() == keyword.casefold():
        return words[1] if len(words) > 1 else ""
    return text
