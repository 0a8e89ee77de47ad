"""Which operations the Vipps MobilePay APIs have, and what each may answer with which body.

Part of the project's own description of the wire format (with vipps_wire.py's schemas);
docs/vipps.md#endpoints-and-headers lists the same operations in prose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"

# The API gateway in front of every API answers these by itself, as `gateway_error` bodies:
# a missing or wrong subscription key or token (401), a rate limit (429), an outage (5xx).
GATEWAY_STATUSES = frozenset({401, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Answer:
    schema: str | None  # None: the answer has no body
    media_type: str = JSON


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # template: `{name}` stands for one path segment
    request: str | None  # the body a client sends (None: no body)
    answers: dict[int, Answer]

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def matches(self, method: str, path: str) -> bool:
        if method.upper() != self.method:
            return False
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", self.path) + "$"
        flags = re.IGNORECASE if self.path.startswith("/accesstoken") else 0
        return re.match(pattern, path, flags) is not None


def _problems(*statuses: int) -> dict[int, Answer]:
    return {status: Answer("problem", PROBLEM_JSON) for status in statuses}


def _webhook_problems(*statuses: int) -> dict[int, Answer]:
    return {status: Answer("webhook_problem", PROBLEM_JSON) for status in statuses}


PAYMENT = "/epayment/v1/payments/{reference}"
# A change of a payment: refused (400), unknown payment (404), the key used before with another
# body or operation (409), another operation on the payment still running (423, 6160).
CHANGE_ERRORS = _problems(400, 403, 404, 409, 423, 500)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "POST",
        "/accesstoken/get",
        None,
        {
            200: Answer("token_response"),
            400: Answer("token_error"),
            401: Answer("token_error"),
        },
    ),
    Operation(
        "POST",
        "/epayment/v1/payments",
        "create_request",
        # 409: the reference or the Idempotency-Key exists; 422: 5070, cannot be created.
        {201: Answer("create_response"), **_problems(400, 403, 409, 422, 423, 500)},
    ),
    Operation("GET", PAYMENT, None, {200: Answer("payment"), **_problems(400, 403, 404)}),
    Operation(
        "GET", f"{PAYMENT}/events", None, {200: Answer("event_log"), **_problems(400, 403, 404)}
    ),
    Operation(
        "POST",
        f"{PAYMENT}/cancel",
        "cancel_request",
        {200: Answer("modification"), **CHANGE_ERRORS},
    ),
    Operation(
        "POST",
        f"{PAYMENT}/capture",
        "modification_request",
        {200: Answer("modification"), **CHANGE_ERRORS},
    ),
    Operation(
        "POST",
        f"{PAYMENT}/refund",
        "modification_request",
        {200: Answer("modification"), **CHANGE_ERRORS},
    ),
    Operation(
        "POST",
        "/epayment/v1/test/payments/{reference}/approve",
        "force_approve_request",
        {200: Answer(None), **_problems(400, 403, 404, 500)},
    ),
    Operation(
        "POST",
        "/webhooks/v1/webhooks",
        "webhook_registration",
        {201: Answer("webhook_registered"), **_webhook_problems(400, 403)},
    ),
    Operation(
        "GET",
        "/webhooks/v1/webhooks",
        None,
        {200: Answer("webhook_list"), **_webhook_problems(400, 403)},
    ),
    Operation(
        "DELETE",
        "/webhooks/v1/webhooks/{id}",
        None,
        {204: Answer(None), **_webhook_problems(400, 403, 404)},
    ),
    Operation(
        "GET",
        "/vipps-userinfo-api/userinfo/{sub}",
        None,
        {
            200: Answer("userinfo"),
            **{status: Answer("userinfo_problem", PROBLEM_JSON) for status in (403, 404)},
        },
    ),
)


def api_path(path: str) -> str | None:
    """The API path inside `path` (a mount prefix dropped); None for paths of no Vipps API."""
    found = re.search(r"/(accesstoken|epayment|webhooks|vipps-userinfo-api)/", path, re.IGNORECASE)
    return path[found.start() :] if found else None


def operation(method: str, path: str) -> Operation:
    for op in OPERATIONS:
        if op.matches(method, path):
            return op
    raise AssertionError(f"{method} {path} is not an operation of the Vipps MobilePay APIs")


# --- rules a schema cannot say ---------------------------------------------------------------


def aggregate_rules(body: dict[str, Any]) -> list[str]:
    """What a payment's amounts must satisfy (GET payment and the change answers)."""
    currency = body["amount"]["currency"]
    totals = {name.removesuffix("Amount"): a["value"] for name, a in body["aggregate"].items()}
    broken = []
    if any(a["currency"] != currency for a in body["aggregate"].values()):
        broken.append("every aggregate amount is in the payment's currency")
    if totals["refunded"] > totals["captured"]:
        broken.append("refunded <= captured")
    if totals["authorized"] and totals["captured"] + totals["cancelled"] > totals["authorized"]:
        broken.append("captured + cancelled <= authorized")
    if totals["authorized"] > body["amount"]["value"]:
        broken.append("authorized <= amount")
    if body["state"] != "AUTHORIZED" and totals["captured"]:
        broken.append("nothing is captured unless the payment is AUTHORIZED")
    return broken


def create_rules(request: dict[str, Any], answer: dict[str, Any]) -> list[str]:
    """What a 201 to a create must say about the request it answers."""
    broken = []
    if answer["reference"] != request.get("reference"):
        broken.append("the answer names the reference that was sent")
    push = request.get("userFlow") == "PUSH_MESSAGE"
    if push and "redirectUrl" in answer:
        broken.append("no redirectUrl for PUSH_MESSAGE")
    if not push and "redirectUrl" not in answer:
        broken.append("a redirectUrl for every flow but PUSH_MESSAGE")
    return broken


def receipt_rules(request: dict[str, Any]) -> list[str]:
    """What the lines of a create request's receipt must satisfy beyond their schema: the
    totals agree, the two tax fields (if both are sent) agree, and `unitPrice` (per unit,
    including tax) x `quantity` - `discount` is `totalAmount` within (`quantity` + 1) / 2 minor
    units, the rounding of a unit price and of a total to whole minor units."""
    receipt = request.get("receipt") or {}
    broken = []
    for index, line in enumerate(receipt.get("orderLines") or []):
        where = f"receipt.orderLines[{index}]"
        total = line["totalAmount"]
        if total != line["totalAmountExcludingTax"] + line["totalTaxAmount"]:
            broken.append(f"{where}: totalAmount = totalAmountExcludingTax + totalTaxAmount")
        rate, percent = line.get("taxRate"), line.get("taxPercentage")
        if rate is not None and percent is not None and rate != percent * 100:
            broken.append(f"{where}: taxRate = taxPercentage x 100")
        unit = line.get("unitInfo")
        if unit is None:
            continue
        quantity = Decimal(unit["quantity"])
        expected = unit["unitPrice"] * quantity - (line.get("discount") or 0)
        if abs(expected - total) > (quantity + 1) / 2:
            broken.append(
                f"{where}: unitPrice (including tax) x quantity - discount = totalAmount "
                f"({unit['unitPrice']} x {unit['quantity']} is not {total})"
            )
    return broken
