"""RFC 7807 problem bodies and the ErrorCode table (docs/vipps.md#errors), kept as data.

Domain errors carry `extraDetails: [{"name": "ErrorCode", "reason": "<code>"}]`; validation
errors are `400 Bad Request` with one `extraDetails` entry per field and no ErrorCode.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    title: str
    detail: str


# ErrorCode -> (HTTP status, title, detail). Titles follow the documented ones; clients are
# told to branch on status + code, never on text.
ERRORS: dict[int, ErrorSpec] = {
    3010: ErrorSpec(500, "Internal error", "An internal error occurred."),
    4010: ErrorSpec(
        409,
        "Capture idempotency conflict",
        "The Idempotency-Key was used for a capture with a different body.",
    ),
    4020: ErrorSpec(
        409, "Idempotency error", "Idempotency-Key {key} already exists for another request."
    ),
    4040: ErrorSpec(400, "Invalid amount", "The amount is not valid: {why}"),
    4050: ErrorSpec(400, "Invalid CustomerToken", "The customer token is not valid."),
    4060: ErrorSpec(400, "Invalid PersonalQr", "The personal QR code is not valid."),
    4070: ErrorSpec(400, "Invalid phone number", "The phone number is not a valid MSISDN."),
    4080: ErrorSpec(400, "Invalid scope", "The profile scope contains unknown values: {why}"),
    4090: ErrorSpec(400, "Invalid URL", "The field {why} must use https:// or a custom scheme."),
    4100: ErrorSpec(400, "Metadata capacity exceeded", "Metadata may hold at most 5 entries."),
    4110: ErrorSpec(400, "Metadata duplicate keys", "Metadata contains duplicate keys."),
    4120: ErrorSpec(400, "Metadata key too long", "Metadata keys may be at most 100 characters."),
    4130: ErrorSpec(
        400, "Metadata value too long", "Metadata values may be at most 500 characters."
    ),
    4140: ErrorSpec(400, "Missing required parameter", "The parameter {why} is required."),
    4150: ErrorSpec(409, "Reference exists", "{why}"),
    4160: ErrorSpec(400, "Invalid payment method type", "{why}"),
    5030: ErrorSpec(403, "Illegal scope", "The sales unit may not request the scope {why}."),
    5040: ErrorSpec(400, "Invalid currency for merchant", "The sales unit only accepts {why}."),
    5050: ErrorSpec(
        403,
        "Long-living payments not allowed",
        "The sales unit is not approved for expiresAt (long-living payments).",
    ),
    5060: ErrorSpec(
        403,
        "Merchant bank account not verified",
        "The merchant must verify its bank account before it can receive payments.",
    ),
    5080: ErrorSpec(
        403, "PUSH_MESSAGE not allowed", "The sales unit is not approved for PUSH_MESSAGE."
    ),
    5090: ErrorSpec(404, "Reference not found", "No payment with reference {why}."),
    5100: ErrorSpec(400, "Refund not possible", "{why}"),
    6010: ErrorSpec(400, "Amount too small", "The minimum amount in {why}."),
    6020: ErrorSpec(
        400, "Cannot refund before reservation", "The payment has not been authorized."
    ),
    6030: ErrorSpec(400, "Cancel period expired", "The payment can no longer be cancelled."),
    6040: ErrorSpec(
        400,
        "Cannot cancel a captured payment",
        "The payment is fully captured; refund it instead.",
    ),
    6050: ErrorSpec(
        400, "Cannot cancel non-reserved payment", "The payment is {why} and holds no reservation."
    ),
    6060: ErrorSpec(
        400,
        "Cannot cancel authorized payment",
        "cancelTransactionOnly was set and the payment is already authorized.",
    ),
    6070: ErrorSpec(400, "Cannot capture cancelled payment", "The payment has been cancelled."),
    6080: ErrorSpec(
        400,
        "Cannot capture before reservation",
        "The amount you tried to capture is not reserved. The user must accept the payment "
        "before capture can be done.",
    ),
    6090: ErrorSpec(400, "Capture amount too high", "At most {why} can be captured."),
    6100: ErrorSpec(400, "Capture period expired", "The capture deadline has passed."),
    6110: ErrorSpec(400, "ExpiresAt too late", "expiresAt must be at most {why} ahead."),
    6120: ErrorSpec(400, "ExpiresAt too soon", "expiresAt must be more than 10 minutes ahead."),
    6130: ErrorSpec(
        400, "Long-living payment requires receipt", "A payment with expiresAt needs a receipt."
    ),
    6140: ErrorSpec(
        400, "Must capture full amount", "The sales unit only allows capturing the full amount."
    ),
    6150: ErrorSpec(400, "Not enough refundable", "At most {why} can be refunded."),
    6160: ErrorSpec(423, "Order processing", "Another operation on this payment is in progress."),
    6170: ErrorSpec(400, "Already captured", "The payment is already fully captured."),
    6180: ErrorSpec(400, "Already refunded", "The payment is already fully refunded."),
    6190: ErrorSpec(400, "Cannot be cancelled", "The payment is {why} and cannot be cancelled."),
    6200: ErrorSpec(400, "Cannot be captured", "The payment is {why} and cannot be captured."),
    6210: ErrorSpec(400, "Cannot be refunded", "The payment is {why} and cannot be refunded."),
    6220: ErrorSpec(400, "Refund period expired", "The refund period has expired."),
    6230: ErrorSpec(400, "Already reserved", "The payment is already authorized."),
    6250: ErrorSpec(
        400, "Cannot cancel processing payment", "The user is completing the payment right now."
    ),
    7010: ErrorSpec(400, "Customer not found", "The customer cannot pay this payment."),
    10010: ErrorSpec(400, "Approve failed", "{why}"),
}


@dataclass
class ApiError(Exception):
    """A domain error with an ErrorCode, or a field validation error (code None)."""

    code: int | None
    why: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    key: str = ""

    @property
    def status(self) -> int:
        return ERRORS[self.code].status if self.code is not None else 400


def validation(name: str, reason: str) -> ApiError:
    return ApiError(code=None, fields=[(name, reason)])


def trace_id() -> str:
    """A W3C traceparent string, as Vipps returns in `traceId`."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def problem_body(error: ApiError, instance: str) -> dict[str, Any]:
    if error.code is None:
        return {
            "type": "https://httpstatuses.io/400",
            "title": "Bad Request",
            "detail": "See extraDetails for further details",
            "instance": instance,
            "status": 400,
            "extraDetails": [{"name": n, "reason": r} for n, r in error.fields],
            "traceId": trace_id(),
        }
    spec = ERRORS[error.code]
    return {
        "type": f"https://httpstatuses.io/{spec.status}",
        "title": spec.title,
        "detail": spec.detail.format(why=error.why, key=error.key),
        "instance": instance,
        "status": spec.status,
        "extraDetails": [{"name": "ErrorCode", "reason": str(error.code)}],
        "traceId": trace_id(),
    }


def plain_problem(status: int, title: str, detail: str, instance: str) -> dict[str, Any]:
    """A problem without ErrorCode (auth, rate limit, injected faults)."""
    return {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "detail": detail,
        "instance": instance,
        "status": status,
        "traceId": trace_id(),
    }


def problem_response(
    body: dict[str, Any], status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def instance_of(path: str) -> str:
    """`instance` is the path without the `/epayment` prefix (docs/vipps.md#errors)."""
    return path.removeprefix("/epayment")


class PlainProblem(Exception):
    """An RFC 7807 error without an ErrorCode (e.g. a foreign MSN)."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
