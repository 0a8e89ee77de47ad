"""ePayment API v1: create, get, events, cancel, capture, refund and test force approve.

Every modifying call is idempotent per (MSN, Idempotency-Key): an identical replay returns the
stored answer (4xx included), a changed body is 409 (4010 capture, 4150 refund, 4020 otherwise),
and a key reused for another operation or payment is 409 4020 (docs/vipps.md#idempotency).
While one change of a payment is processed, another one of the same payment is 423 with 6160
(`operation_hold_ms` in the fault switches makes the processing take that long).

Every call is for the sales unit its `Merchant-Serial-Number` names (`gateway.calling_unit`):
that unit's market and currency, situation, payments and webhooks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from payrequest.sandbox import payments as ops
from payrequest.sandbox.config import SalesUnitConfig
from payrequest.sandbox.emulator import Keys, Sandbox
from payrequest.sandbox.gateway import calling_unit, check_bearer, rate_limit, sandbox_of
from payrequest.sandbox.model import Payment
from payrequest.sandbox.problems import (
    PROBLEM_JSON,
    ApiError,
    instance_of,
    problem_body,
    validation,
)
from payrequest.sandbox.store import IdempotencyRecord
from payrequest.sandbox.validation import (
    SalesUnit,
    check_amount,
    check_create,
    check_reference,
    check_system_headers,
    parse_body,
)

router = APIRouter(prefix="/epayment/v1")
MODIFY_LIMIT = 5  # a minute per reference + MSN (docs/vipps.md#rate-limits-and-polling)
READ_LIMIT = 120  # per minute per reference + subscription key
CONFLICT_CODE = {"capture": 4010, "refund": 4150, "cancel": 4020, "create": 4020}
NOT_STORED = frozenset({423, 429})  # transient answers; a retry with the key may succeed
Outcome = tuple[int, dict[str, Any]]


def route_path(request: Request) -> str:
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def merchant(request: Request) -> tuple[Keys, SalesUnitConfig]:
    """Checks token, subscription key, MSN and `Vipps-System-*` headers; returns the keys of
    the call and the sales unit it is for."""
    keys = check_bearer(request)
    check_system_headers(request.headers)
    return keys, calling_unit(request, keys, required=True)


def base_url(request: Request) -> str:
    """Absolute URL of the emulator's root, including the mount prefix (`root_path`).

    `request.base_url` is not used: for a mounted app it leaves out the mount path.
    """
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}{root}"


def redirect_url(request: Request, payment: Payment) -> str | None:
    """Where the user goes: nothing for PUSH_MESSAGE, the app itself for NATIVE_REDIRECT
    (`vipps://` in Norway, `mobilepay://` in Denmark and Finland), the QR image or the landing
    page otherwise."""
    base = base_url(request)
    token = payment.redirect_token
    if payment.user_flow == "PUSH_MESSAGE":
        return None
    if payment.user_flow == "NATIVE_REDIRECT":
        return f"{sandbox_of(request).unit(payment.msn).app_scheme}://?token={token}"
    if payment.user_flow == "QR" and payment.qr_format == "IMAGE/SVG+XML":
        return f"{base}/qr/{token}.svg"
    if payment.user_flow == "QR" and payment.qr_format == "IMAGE/PNG":
        return f"{base}/qr/{token}.png?size={payment.qr_size or 1024}"
    return f"{base}/landing?token={token}"


def payment_body(request: Request, payment: Payment) -> dict[str, Any]:
    # `sub` once the user who shared the profile has authorized; `{}` before and without scope.
    profile = (
        {"sub": payment.profile_sub}
        if (payment.profile_sub and payment.state == "AUTHORIZED")
        else {}
    )
    body: dict[str, Any] = {
        "aggregate": payment.aggregate(),
        "amount": payment.amount(),
        "state": payment.state,
        "paymentMethod": {"type": payment.payment_method},
        "profile": profile,
        "pspReference": payment.psp_reference,
        "reference": payment.reference,
    }
    url = redirect_url(request, payment)
    if url:
        body["redirectUrl"] = url
    if payment.metadata:
        body["metadata"] = payment.metadata
    return body


def modification_body(payment: Payment) -> dict[str, Any]:
    return {
        "amount": payment.amount(),
        "state": payment.state,
        "aggregate": payment.aggregate(),
        "pspReference": payment.psp_reference,
        "reference": payment.reference,
    }


def find(sb: Sandbox, msn: str, reference: str) -> Payment:
    check_reference(reference)
    payment = sb.store.payment(msn, reference)
    if payment is None:
        raise ApiError(5090, why=reference)
    return ops.expire_if_due(sb, payment)


def respond(status: int, body: dict[str, Any] | None) -> Response:
    if body is None:
        return Response(status_code=status)
    media = PROBLEM_JSON if status >= 400 else "application/json"
    return JSONResponse(body, status_code=status, media_type=media)


def _request_hash(operation: str, reference: str, raw: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw or b"{}"), sort_keys=True).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(
        operation.encode() + b"\0" + reference.encode() + b"\0" + canonical
    ).hexdigest()


def _peek_reference(raw: bytes) -> str:
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    return str(body.get("reference", "")) if isinstance(body, dict) else ""


async def idempotent(
    request: Request,
    operation: str,
    reference: str | None,
    action: Callable[[SalesUnitConfig, bytes], Outcome],
) -> Response:
    sb = sandbox_of(request)
    _, unit = merchant(request)
    msn = unit.msn
    raw = await request.body()
    ref = reference if reference is not None else _peek_reference(raw)
    rate_limit(request, (operation, msn, ref), MODIFY_LIMIT)
    key = request.headers.get("Idempotency-Key")
    if not key or len(key) > 50:
        raise validation("Idempotency-Key", "The Idempotency-Key header is required (max 50).")
    request_hash = _request_hash(operation, ref, raw)
    record = sb.store.idempotency(msn, key)
    if record is not None:
        if record.operation != operation or (reference is not None and record.reference != ref):
            raise ApiError(4020, key=key)
        if record.request_hash != request_hash:
            raise ApiError(
                CONFLICT_CODE[operation],
                why="The Idempotency-Key was used with a different body.",
                key=key,
            )
        return respond(record.status, record.body)
    if (msn, ref) in sb.busy:
        raise ApiError(6160)
    sb.busy.add((msn, ref))
    try:
        if operation != "create":
            await sb.hold_operation()
        status, body = action(unit, raw)
    except ApiError as error:
        status, body = error.status, problem_body(error, instance_of(route_path(request)))
    finally:
        sb.busy.discard((msn, ref))
    if status not in NOT_STORED:
        sb.store.save_idempotency(
            msn, key, IdempotencyRecord(operation, ref, request_hash, status, body)
        )
    return respond(status, body)


def sales_unit(sb: Sandbox, unit: SalesUnitConfig) -> SalesUnit:
    """What create checks of the unit: its market and currency and its situation now."""
    cfg, situation = sb.config, sb.situation(unit.msn)
    return SalesUnit(
        unit.market,
        unit.currency,
        situation.long_living_approved,
        situation.push_message_approved,
        cfg.allow_http_loopback,
        cfg.unknown_users,
        cfg.restricted_scopes_allowed,
        situation.bank_account_verified,
    )


@router.post("/payments")
async def create(request: Request) -> Response:
    sb = sandbox_of(request)
    key = request.headers.get("Idempotency-Key", "")

    def action(unit: SalesUnitConfig, raw: bytes) -> Outcome:
        req = check_create(parse_body(raw, required=True), sales_unit(sb, unit), sb.clock.now())
        if sb.store.payment(unit.msn, req.reference) is not None:
            raise ApiError(4150, why=f"Reference {req.reference} already exists.")
        payment = ops.create_payment(sb, unit.msn, req, key)
        body: dict[str, Any] = {"reference": payment.reference}
        url = redirect_url(request, payment)
        if url:
            body["redirectUrl"] = url
        return 201, body

    return await idempotent(request, "create", None, action)


@router.get("/payments/{reference}")
async def get_payment(reference: str, request: Request) -> Response:
    sb = sandbox_of(request)
    keys, unit = merchant(request)
    rate_limit(request, ("get", keys.subscription_key, reference), READ_LIMIT)
    return respond(200, payment_body(request, find(sb, unit.msn, reference)))


@router.get("/payments/{reference}/events")
async def get_events(reference: str, request: Request) -> Response:
    sb = sandbox_of(request)
    keys, unit = merchant(request)
    rate_limit(request, ("events", keys.subscription_key, reference), READ_LIMIT)
    find(sb, unit.msn, reference)
    events = [e.to_wire() for e in sb.store.events(unit.msn, reference)]
    return JSONResponse(events)


def _modify(
    request: Request, reference: str, change: Callable[[Payment, dict[str, Any]], None]
) -> Callable[[SalesUnitConfig, bytes], Outcome]:
    sb = sandbox_of(request)

    def action(unit: SalesUnitConfig, raw: bytes) -> Outcome:
        payment = find(sb, unit.msn, reference)
        change(payment, parse_body(raw, required=False))
        return 200, modification_body(payment)

    return action


def _amount(body: dict[str, Any]) -> tuple[str, int]:
    if body.get("modificationAmount") is None:
        raise ApiError(4140, why="modificationAmount")
    return check_amount(body["modificationAmount"], "modificationAmount")


@router.post("/payments/{reference}/cancel")
async def cancel(reference: str, request: Request) -> Response:
    sb = sandbox_of(request)
    key = request.headers.get("Idempotency-Key", "")

    def change(payment: Payment, body: dict[str, Any]) -> None:
        only = body.get("cancelTransactionOnly", False)
        if not isinstance(only, bool):
            raise validation("cancelTransactionOnly", "cancelTransactionOnly must be a boolean.")
        ops.cancel(sb, payment, only, key)

    return await idempotent(request, "cancel", reference, _modify(request, reference, change))


@router.post("/payments/{reference}/capture")
async def capture(reference: str, request: Request) -> Response:
    sb = sandbox_of(request)
    key = request.headers.get("Idempotency-Key", "")

    def change(payment: Payment, body: dict[str, Any]) -> None:
        ops.capture(sb, payment, *_amount(body), key)

    return await idempotent(request, "capture", reference, _modify(request, reference, change))


@router.post("/payments/{reference}/refund")
async def refund(reference: str, request: Request) -> Response:
    sb = sandbox_of(request)
    key = request.headers.get("Idempotency-Key", "")

    def change(payment: Payment, body: dict[str, Any]) -> None:
        ops.refund(sb, payment, *_amount(body), key)

    return await idempotent(request, "refund", reference, _modify(request, reference, change))


@router.post("/test/payments/{reference}/approve")
async def force_approve(reference: str, request: Request) -> Response:
    sb = sandbox_of(request)
    _, unit = merchant(request)
    body = parse_body(await request.body(), required=False)
    payment = find(sb, unit.msn, reference)
    token = body.get("token")
    if token is not None and token != payment.redirect_token:
        raise ApiError(10010, why="The token does not belong to this payment.")
    customer = body.get("customer")
    phone = customer.get("phoneNumber") if isinstance(customer, dict) else None
    if phone is not None and payment.phone not in (None, phone):
        raise ApiError(10010, why="The customer is not the one the payment was sent to.")
    if token is not None and phone is None and payment.phone is None:
        # The token names the payment, not a user: the market's test user approves it.
        phone = unit.test_user
    ops.approve(sb, payment, phone, consent=True)  # the test user shares what is asked for
    return Response(status_code=200)
