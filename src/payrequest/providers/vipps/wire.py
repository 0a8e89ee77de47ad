"""Request bodies and answers of the ePayment and Userinfo APIs. Pure functions, no I/O."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from payrequest.kit.money import Money
from payrequest.providers.base import (
    CreatePayment,
    OrderLine,
    PaymentNotFound,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
)
from payrequest.providers.vipps.mapping import (
    EVENT_FROM_WIRE,
    RETRYABLE_CODES,
    RETRYABLE_STATUSES,
    STATE_FROM_WIRE,
    USER_FLOW_TO_WIRE,
)

PHONE_SCOPE = "phoneNumber"  # profile sharing: the payer's phone number
MSISDN = re.compile(r"[1-9][0-9]{7,14}")  # country code and number, digits only


def amount_to_wire(money: Money) -> dict[str, Any]:
    return {"currency": money.currency, "value": money.amount}


def money_from_wire(data: dict[str, Any]) -> Money:
    value = data["value"]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProviderError(f"amount value is not an integer: {value!r}")
    return Money(value, str(data["currency"]))


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime:
    """Vipps sends up to 7 fractional digits (`2023-03-27T10:51:44.5333258Z`)."""
    cleaned = text.strip().replace("Z", "+00:00")
    if "." in cleaned:
        head, _, tail = cleaned.partition(".")
        digits = "".join(itertools.takewhile(str.isdigit, tail))  # not the zone's digits
        zone = tail[len(digits) :]
        cleaned = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    moment = datetime.fromisoformat(cleaned)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _order_line(line: OrderLine, currency: str) -> dict[str, Any]:
    quantity = Decimal(line.quantity)
    return {
        "name": line.name,
        "id": line.line_id,
        "totalAmount": line.total,
        "totalAmountExcludingTax": line.total_excluding_tax,
        "totalTaxAmount": line.tax_amount,
        "taxPercentage": int(line.tax_rate_bp // 100),
        "unitInfo": {
            "unitPrice": line.unit_price,
            "quantity": format(quantity.normalize(), "f"),
            "quantityUnit": "PCS",
        },
    }


def create_body(request: CreatePayment) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount": amount_to_wire(request.amount),
        "paymentMethod": {"type": "WALLET"},
        "reference": request.reference,
        "userFlow": USER_FLOW_TO_WIRE[request.user_flow],
        "paymentDescription": request.description,
    }
    if request.phone_msisdn:
        body["customer"] = {"phoneNumber": request.phone_msisdn}
    if request.return_url:
        body["returnUrl"] = request.return_url
    if request.user_flow.value == "qr":
        # The link the code stands for, not an image: we draw the code ourselves and can send
        # the same link by SMS or email. An invoice's payer is seldom at a till when they scan
        # or open it (docs/vipps.md#creating-a-payment).
        body["qrFormat"] = {"format": "TEXT/TARGETURL"}
        body["customerInteraction"] = "CUSTOMER_NOT_PRESENT"
    if request.expires_at is not None:
        body["expiresAt"] = rfc3339(request.expires_at)
    if request.order_lines:
        body["receipt"] = {
            "orderLines": [
                _order_line(line, request.amount.currency) for line in request.order_lines
            ],
            "bottomLine": {"currency": request.amount.currency},
        }
    if request.metadata:
        body["metadata"] = dict(request.metadata)
    if request.share_phone:
        body["profile"] = {"scope": PHONE_SCOPE}
    return body


def parse_payment(data: dict[str, Any]) -> PaymentSnapshot:
    aggregate = data["aggregate"]
    state = STATE_FROM_WIRE.get(str(data["state"]))
    if state is None:
        raise ProviderError(f"unknown payment state {data['state']!r}")
    return PaymentSnapshot(
        reference=str(data["reference"]),
        state=state,
        amount=money_from_wire(data["amount"]),
        authorized=money_from_wire(aggregate["authorizedAmount"]).amount,
        captured=money_from_wire(aggregate["capturedAmount"]).amount,
        cancelled=money_from_wire(aggregate["cancelledAmount"]).amount,
        refunded=money_from_wire(aggregate["refundedAmount"]).amount,
        psp_reference=data.get("pspReference"),
    )


def profile_sub(data: dict[str, Any]) -> str | None:
    """The payer's `sub` in a GET payment answer: there once a payment that asked for profile
    sharing is approved (docs/vipps.md#profile-sharing-and-userinfo)."""
    profile = data.get("profile")
    sub = profile.get("sub") if isinstance(profile, dict) else None
    return sub if isinstance(sub, str) and sub else None


def shared_phone(claims: Any) -> str | None:
    """The phone number in a Userinfo answer, in E.164 (`4791234567` -> `+4791234567`); None
    when the payer shared none or it is not a plausible MSISDN."""
    msisdn = claims.get("phone_number") if isinstance(claims, dict) else None
    if not isinstance(msisdn, str) or not MSISDN.fullmatch(msisdn):
        return None
    return f"+{msisdn}"


def parse_event(data: dict[str, Any]) -> ProviderEvent:
    name = EVENT_FROM_WIRE.get(str(data.get("name")))
    if name is None:
        raise ProviderError(f"unknown event name {data.get('name')!r}")
    return ProviderEvent(
        reference=str(data["reference"]),
        name=name,
        psp_reference=str(data["pspReference"]),
        amount=money_from_wire(data["amount"]),
        occurred_at=parse_timestamp(str(data["timestamp"])),
        success=bool(data.get("success", True)),
        idempotency_key=data.get("idempotencyKey"),
        merchant_id=data.get("msn") or data.get("merchantSerialNumber"),
    )


def problem(response: httpx.Response) -> ProviderError:
    """Read an RFC 7807 problem (or an APIM-style error) into a ProviderError."""
    try:
        data = response.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    code = None
    for detail in data.get("extraDetails") or []:
        if isinstance(detail, dict) and detail.get("name") == "ErrorCode":
            code = str(detail.get("reason"))
    title = data.get("title") or data.get("message") or response.reason_phrase
    detail_text = data.get("detail")
    message = str(title) if not detail_text else f"{title}: {detail_text}"
    kind = PaymentNotFound if code == "5090" or response.status_code == 404 else ProviderError
    return kind(
        message,
        status=response.status_code,
        code=code,
        trace_id=data.get("traceId"),
        retryable=response.status_code in RETRYABLE_STATUSES or code in RETRYABLE_CODES,
    )
