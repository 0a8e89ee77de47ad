"""The sandbox SMS gateway: delivers into the emulator's phone simulator SMS inbox.

Plain HTTP against the emulator (wherever it runs: mounted at `/sandbox/vipps` in the demo or
standalone), never an import of `payrequest.sandbox`:

    POST {base_url}/phone/{msisdn}/sms   {"sender": ..., "text": ..., "idempotency_key": ...}
    -> 201 and the stored message (new), 200 and the first message (same idempotency key)

The emulator deduplicates on the idempotency key, so a retried send never shows twice.
"""

from __future__ import annotations

from typing import Any

import httpx

from payrequest.notify.sms._http import status_error, transport_error
from payrequest.notify.sms.base import SmsReceipt, check_message

DEFAULT_SENDER = "payrequest"


class SandboxSms:
    name = "sandbox"

    def __init__(
        self,
        *,
        base_url: str,
        sender: str = DEFAULT_SENDER,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.sender = sender
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=False
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
        url = f"{self.base_url}/phone/{phone.msisdn}/sms"
        body = {"sender": chosen, "text": text, "idempotency_key": idempotency_key}
        try:
            response = await self._http.post(url, json=body)
        except httpx.HTTPError as exc:
            raise transport_error("SMS sandbox", exc) from exc
        if response.status_code not in (200, 201):
            raise status_error("SMS sandbox", response, _detail(response))
        try:
            record: Any = response.json()
            message_id = str(record["id"])
        except (ValueError, KeyError, TypeError):
            message_id = idempotency_key  # stored, but the answer had no id: the key names it
        return SmsReceipt(gateway=self.name, message_id=message_id, to=phone.e164)

    async def close(self) -> None:
        await self._http.aclose()


def _detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict):
        detail = body.get("detail", body)
        return str(detail)[:300]
    return str(body)[:300]
