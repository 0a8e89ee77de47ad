"""GatewayAPI (gatewayapi.com, Copenhagen): an SMS gateway used across DK, NO, SE and FI.

Sources: GatewayAPI's REST API documentation ("REST API" → "Sending SMS'es", "Advanced usage",
and "Error code index"), as published in the public repository onlinecity/gatewayapi-docs
(`docs/rest.rst`, `docs/errors.rst`); the Logto GatewayAPI connector (logto-io/logto,
`packages/connectors/connector-gatewayapi-sms`) confirms the token-as-Basic-username scheme and
the two hosts. What we use:

    POST {base_url}/rest/mtsms
    Authorization: Basic base64("<API token>:")     (the token as username, empty password)
    {"sender": "payrequest", "message": "...", "recipients": [{"msisdn": 4791234567}],
     "userref": "<idempotency key>", "max_parts": 6, "encoding": "UCS2" (only when needed)}
    -> 200 {"ids": [421332671], "usage": {...}}
    -> 4xx/5xx {"code": "0x0216", "message": "Insufficient credit", "variables": [...],
                "incident_uuid": "..."}    (400 bad input, 401 bad token, 403 IP not allowed,
                                            422 invalid JSON body, 500 their exception)

`msisdn` is the full number as an integer. `encoding` defaults to GSM 03.38; a text with
characters outside it must be sent as UCS2 or they are lost. `max_parts` caps what a single
message may cost. The base URL is `https://gatewayapi.com`; accounts hosted in the EU use
`https://gatewayapi.eu` (PAYREQUEST_SMS__BASE_URL).

Exactly-once: GatewayAPI does NOT deduplicate on `userref` (it is only echoed back in delivery
reports), so sending the same idempotency key twice sends two SMS. The caller records the
attempt and its key before calling, and on an error with `maybe_sent` (a timeout after the
request went out) checks before retrying.
"""

from __future__ import annotations

from typing import Any

import httpx

from payrequest.notify.sms._http import status_error, transport_error
from payrequest.notify.sms.base import MAX_PARTS, SmsError, SmsReceipt, check_message, sms_length

DEFAULT_BASE_URL = "https://gatewayapi.com"
NAME = "GatewayAPI"


class GatewayApiSms:
    name = "gatewayapi"

    def __init__(
        self,
        *,
        api_token: str,
        sender: str,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not api_token:
            raise ValueError("GatewayAPI needs an API token")
        self.sender = sender
        self.url = f"{base_url.rstrip('/')}/rest/mtsms"
        self._http = httpx.AsyncClient(
            auth=httpx.BasicAuth(api_token, ""),
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    async def send(
        self, *, to: str, text: str, idempotency_key: str, sender: str | None = None
    ) -> SmsReceipt:
        phone, chosen = check_message(
            to=to,
            text=text,
            idempotency_key=idempotency_key,
            sender=sender,
            default_sender=self.sender,
        )
        body: dict[str, Any] = {
            "sender": chosen,
            "message": text,
            "recipients": [{"msisdn": int(phone.msisdn)}],
            "userref": idempotency_key,
            "max_parts": MAX_PARTS,
        }
        if sms_length(text).encoding == "UCS2":
            body["encoding"] = "UCS2"
        try:
            response = await self._http.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise transport_error(NAME, exc) from exc
        if response.status_code != 200:
            raise status_error(NAME, response, error_detail(response))
        try:
            ids = response.json()["ids"]
            message_id = str(ids[0])
        except (ValueError, KeyError, IndexError, TypeError):
            raise SmsError(
                f"{NAME} answered 200 without a message id: {response.text[:200]!r}",
                False,
                maybe_sent=True,
            ) from None
        return SmsReceipt(gateway=self.name, message_id=message_id, to=phone.e164)

    async def close(self) -> None:
        await self._http.aclose()


def error_detail(response: httpx.Response) -> str:
    """GatewayAPI's error message with its `%1`… placeholders filled in, and its code."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    message = str(body.get("message") or response.reason_phrase)
    variables = body.get("variables") or []
    if isinstance(variables, list):
        for index in range(len(variables), 0, -1):  # %10 before %1
            message = message.replace(f"%{index}", str(variables[index - 1]))
    code = body.get("code")
    return f"{message} ({code})" if code else message
