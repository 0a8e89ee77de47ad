"""Request bodies and answers of the ePayment and Userinfo APIs. Pure functions, no I/O."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from payrequest.kit.money import Money
from payrequest.kit.retry_after import seconds_to_wait
from payrequest.providers.base import (
    AlreadyAuthorized,
    CreatePayment,
    OrderLine,
    PaymentNotFound,
    PaymentSnapshot,
    ProviderError,
    ProviderEvent,
    TryAgainLater,
)
from payrequest.providers.vipps.mapping import (
    ALREADY_AUTHORIZED_CODES,
    CREDENTIALS_REFUSED,
    EVENT_FROM_WIRE,
    NOT_FOUND_CODE,
    RETRYABLE_CODES,
    RETRYABLE_STATUSES,
    STATE_FROM_WIRE,
    SUBSCRIPTION_KEY_REFUSED,
    TOKEN_REFUSALS,
    USER_FLOW_TO_WIRE,
)

PHONE_SCOPE = "phoneNumber"  # profile sharing: the payer's phone number
MSISDN = re.compile(r"[1-9][0-9]{7,14}")  # country code and number, digits only
QUANTITY = re.compile(r"\d+(\.\d{1,8})?")  # a receipt line's quantity (docs/vipps.md#receipts)
QUANTITY_MAX_LENGTH = 10
NAME_MAX_LENGTH = 100


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


def _order_line(line: OrderLine) -> dict[str, Any]:
    """One receipt line (docs/vipps.md#receipts): the tax rate in hundredths of a percent
    (`taxRate`), the unit price including tax. A quantity the receipt cannot hold becomes one
    unit at the line's total, with the real quantity at the front of the name."""
    name, quantity, unit_price = (
        line.name,
        wire_quantity(line.quantity),
        line.unit_price_including_tax,
    )
    if quantity is None:
        name = f"{line.quantity_label or line.quantity} × {line.name}"[:NAME_MAX_LENGTH]
        quantity, unit_price = "1", line.total
    return {
        "name": name,
        "id": line.line_id,
        "totalAmount": line.total,
        "totalAmountExcludingTax": line.total_excluding_tax,
        "totalTaxAmount": line.tax_amount,
        "taxRate": line.tax_rate_bp,
        "unitInfo": {"unitPrice": unit_price, "quantity": quantity, "quantityUnit": "PCS"},
    }


def wire_quantity(quantity: str) -> str | None:
    """A quantity as the receipt takes it (a plain decimal string, at most 8 decimals and 10
    characters, e.g. "1.5"); None when it does not fit."""
    try:
        text = format(Decimal(quantity).normalize(), "f")
    except InvalidOperation:
        return None
    fits = len(text) <= QUANTITY_MAX_LENGTH and QUANTITY.fullmatch(text)
    return text if fits else None


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
            "orderLines": [_order_line(line) for line in request.order_lines],
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
    """Read an RFC 7807 problem (or an APIM-style error) into a ProviderError.

    Only the documented "Reference not found" (ErrorCode 5090) is PaymentNotFound; the
    refusals saying the payer approved first (6060, 6230) are AlreadyAuthorized; a 404
    without it (a gateway's, a path the API does not serve) says nothing about the payment.
    A retryable answer with `Retry-After` is TryAgainLater (docs/vipps.md#errors)."""
    data = _json_object(response)
    code = error_code(data)
    title = data.get("title") or data.get("message") or response.reason_phrase
    detail_text = data.get("detail")
    message = str(title) if not detail_text else f"{title}: {detail_text}"
    status = response.status_code
    retryable = status in RETRYABLE_STATUSES or code in RETRYABLE_CODES
    trace_id = data.get("traceId")
    wait = retry_after(response) if retryable else None
    if wait is not None:
        return TryAgainLater(
            message,
            retry_after=timedelta(seconds=wait),
            status=status,
            code=code,
            trace_id=trace_id,
        )
    kind: type[ProviderError] = ProviderError
    if code == NOT_FOUND_CODE:
        kind = PaymentNotFound
    elif code in ALREADY_AUTHORIZED_CODES:
        kind = AlreadyAuthorized
    return kind(message, status=status, code=code, trace_id=trace_id, retryable=retryable)


def token_problem(response: httpx.Response) -> ProviderError:
    """Why the access token was refused (docs/vipps.md#access-token): a sentence staff can act
    on for the known cases, with the identity provider's own words kept as `detail`."""
    data = _json_object(response)
    error = data.get("error")
    if isinstance(error, str):  # the identity provider's answer: client id or secret
        codes = [c for c in data.get("error_codes") or [] if isinstance(c, int)]
        known = [TOKEN_REFUSALS[c] for c in codes if c in TOKEN_REFUSALS]
        description = str(data.get("error_description") or "").strip().splitlines()
        return ProviderError(
            known[0] if known else CREDENTIALS_REFUSED,
            status=response.status_code,
            trace_id=data.get("trace_id") or data.get("correlation_id"),
            detail=f"{error}: {description[0]}" if description else error,
        )
    if response.status_code == 401 and "statusCode" in data:  # the gateway: subscription key
        return ProviderError(
            SUBSCRIPTION_KEY_REFUSED,
            status=response.status_code,
            detail=str(data.get("message") or "") or None,
        )
    return problem(response)


def error_code(data: dict[str, Any]) -> str | None:
    """The problem's ErrorCode (`extraDetails: [{"name": "ErrorCode", "reason": "6080"}]`)."""
    code = None
    for detail in data.get("extraDetails") or []:
        if isinstance(detail, dict) and detail.get("name") == "ErrorCode":
            code = str(detail.get("reason"))
    return code


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the answer asks us to wait (`Retry-After`: seconds or an HTTP date)."""
    return seconds_to_wait(response.headers.get("Retry-After"))


SUPPORT_IDS = ("traceId", "instance", "trace_id", "correlation_id")


def support_ids(response: httpx.Response) -> dict[str, str]:
    """What support needs to find a call (docs/vipps.md#errors): a problem's `traceId` and
    `instance`, or the identity provider's `trace_id` and `correlation_id`."""
    data = _json_object(response)
    return {name: str(data[name]) for name in SUPPORT_IDS if data.get(name)}


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
