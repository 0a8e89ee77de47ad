"""The phone simulator, the landing page, QR images and the SMS inbox API.

Pages (relative to where the emulator is mounted):
- `GET /phone` — the sales units the emulator plays (merchant, market, MSN, the market's test
  user) and the phones that have payment requests or SMS.
- `GET /phone/{msisdn}` — the "app": pending requests with Approve / Reject, history, SMS.
  Every request shows the merchant (sales unit) and market it is for; one phone may have
  requests of several units.
  A request that asks for profile information first shows a consent screen (Share & continue /
  Decline; declining aborts the payment, as in the real app). It re-fetches
  `GET /phone/{msisdn}/live` (an HTML fragment) every 1.5 s.
- `GET /landing?token=...` — the landing page a redirectUrl or QR code opens.

SMS inbox API (for payrequest's sandbox SMS gateway):
- `POST /phone/{msisdn}/sms` with JSON `{"sender": "payrequest", "text": "...",
  "idempotency_key": "..."}` -> `201` and the stored message; sending the same
  `idempotency_key` again -> `200` and the message stored the first time (no duplicate).
  `msisdn` is digits only (`4791234567`); `sender` 1-20 characters; `text` 1-1600 characters.
- `GET /phone/{msisdn}/sms` -> the messages, newest first.

Each message on the phone's page has a "Reply" form (`sms_replies`).

The phone pages, their buttons and reading the inbox ask the mounting app's guard first
(`access`); the landing page (its token is the key), the QR images and posting an SMS do not.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import segno
from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from pydantic import BaseModel, Field

from payrequest.kit.money import Money
from payrequest.sandbox import payments as ops
from payrequest.sandbox.access import GUARDED
from payrequest.sandbox.api_epayment import base_url
from payrequest.sandbox.emulator import Sandbox
from payrequest.sandbox.gateway import sandbox_of
from payrequest.sandbox.model import Payment
from payrequest.sandbox.problems import ApiError
from payrequest.sandbox.profile import consent_text
from payrequest.sandbox.validation import MSISDN_RE

router = APIRouter(tags=["phone simulator"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
URL_RE = re.compile(r"https?://[^\s<>\"']+")
HISTORY = 10
# Buttons on a request: action -> (what it does, what the phone says after it).
ACTIONS: dict[str, tuple[Callable[[Sandbox, Payment], None], str]] = {
    "approve": (ops.approve, "Payment approved"),
    "reject": (ops.reject, "Payment rejected"),
    "share": (ops.share_profile, "Information shared"),
    "decline": (ops.reject, "Payment cancelled: you did not share the information"),
}


class SmsIn(BaseModel):
    sender: str = Field(min_length=1, max_length=20)
    text: str = Field(min_length=1, max_length=1600)
    idempotency_key: str = Field(min_length=1, max_length=200)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def phone_number(msisdn: str) -> str:
    if not MSISDN_RE.match(msisdn):
        raise HTTPException(404, "A phone number is 10-15 digits, e.g. 4791234567")
    return msisdn


def format_amount(currency: str, value: int) -> str:
    return Money(value, currency).format()


def linkify(text: str) -> Markup:
    escaped = html.escape(text)
    return Markup(  # noqa: S704 - every part was escaped above
        URL_RE.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
    )


def _card(sb: Sandbox, payment: Payment) -> dict[str, Any]:
    """What a request card shows: the merchant and market of its sales unit, and for a
    long-living request (`expiresAt`) when it expires in the market's local time, for a
    standard 10-minute one a countdown."""
    unit = sb.unit(payment.msn)
    remaining = (payment.expires_at - sb.clock.now()).total_seconds()
    local_expiry = payment.expires_at.astimezone(ZoneInfo(unit.timezone))
    lines = (payment.receipt or {}).get("orderLines", [])
    return {
        "p": payment,
        "merchant": unit.merchant_name,
        "market": f"{unit.app_name} · {unit.market_name} ({unit.currency})",
        "amount": format_amount(payment.currency, payment.value),
        "remaining_ms": max(0, int(remaining * 1000)),
        "expires": f"{local_expiry.day} {local_expiry:%b %Y, %H:%M %Z}",
        "asks_for": (
            consent_text(payment.profile_scope)
            if payment.profile_scope and payment.profile_sub is None
            else None
        ),
        "lines": [
            {
                "name": line.get("name", ""),
                "quantity": (line.get("unitInfo") or {}).get("quantity", "1"),
                "total": format_amount(payment.currency, int(line.get("totalAmount", 0))),
            }
            for line in lines
        ],
    }


def live_context(request: Request, msisdn: str, message: str | None = None) -> dict[str, Any]:
    sb = sandbox_of(request)
    all_payments = [ops.expire_if_due(sb, p) for p in sb.store.payments_for_phone(msisdn)]
    pending = [p for p in all_payments if p.state == "CREATED"]
    done = [p for p in all_payments if p.state != "CREATED"][:HISTORY]
    return {
        "root": _root(request),
        "msisdn": msisdn,
        "pending": [_card(sb, p) for p in pending],
        "history": [_card(sb, p) for p in done],
        "sms": sb.store.sms_for(msisdn),
        "replies": sb.store.sms_replies_for(msisdn),
        "message": message,
        "linkify": linkify,
    }


@router.get("/phone", response_class=HTMLResponse, dependencies=GUARDED)
async def phone_index(request: Request) -> Response:
    sb = sandbox_of(request)
    context = {"root": _root(request), "phones": sb.store.phones(), "units": sb.all_units()}
    return templates.TemplateResponse(request, "index.html", context)


@router.get("/phone/{msisdn}", response_class=HTMLResponse, dependencies=GUARDED)
async def phone_page(msisdn: str, request: Request) -> Response:
    context = live_context(request, phone_number(msisdn))
    return templates.TemplateResponse(request, "phone.html", context)


@router.get("/phone/{msisdn}/live", response_class=HTMLResponse, dependencies=GUARDED)
async def phone_live(msisdn: str, request: Request) -> Response:
    context = live_context(request, phone_number(msisdn))
    return templates.TemplateResponse(request, "_live.html", context)


@router.post(
    "/phone/{msisdn}/payments/{reference}/{action}",
    response_class=HTMLResponse,
    dependencies=GUARDED,
)
async def phone_action(
    msisdn: str, reference: str, action: str, request: Request, msn: str | None = None
) -> Response:
    """A button on a request. `msn` names its sales unit (the page's buttons send it); without
    it, the request with this reference on this phone, the default unit's first."""
    sb = sandbox_of(request)
    payment = _on_phone(sb, phone_number(msisdn), reference, msn)
    if payment is None or action not in ACTIONS:
        raise HTTPException(404, "No such payment request on this phone")
    operation, message = ACTIONS[action]
    try:
        operation(sb, payment)
    except ApiError as error:
        message = f"Payment failed: {error.why}"
    context = live_context(request, msisdn, message)
    return templates.TemplateResponse(request, "_live.html", context)


def _on_phone(sb: Sandbox, msisdn: str, reference: str, msn: str | None) -> Payment | None:
    if msn is not None:
        payment = sb.store.payment(msn, reference)
        return payment if payment is not None and payment.phone == msisdn else None
    mine = [p for p in sb.store.payments_for_phone(msisdn) if p.reference == reference]
    mine.sort(key=lambda p: p.msn != sb.config.msn)
    return mine[0] if mine else None


@router.post("/phone/{msisdn}/sms")
async def receive_sms(msisdn: str, sms: SmsIn, request: Request) -> JSONResponse:
    sb = sandbox_of(request)
    record, created = sb.store.add_sms(
        phone_number(msisdn), sms.sender, sms.text, sms.idempotency_key, sb.clock.now().isoformat()
    )
    sb.changed()
    return JSONResponse(record, status_code=201 if created else 200)


@router.get("/phone/{msisdn}/sms", dependencies=GUARDED)
async def list_sms(msisdn: str, request: Request) -> list[dict[str, Any]]:
    return sandbox_of(request).store.sms_for(phone_number(msisdn))


@router.get("/landing", response_class=HTMLResponse)
async def landing(request: Request, token: str = "") -> Response:
    sb = sandbox_of(request)
    payment = sb.store.payment_by_token(token)
    if payment is None:
        raise HTTPException(404, "This payment link is not valid")
    context = {
        "root": _root(request),
        "token": token,
        "card": _card(sb, ops.expire_if_due(sb, payment)),
    }
    return templates.TemplateResponse(request, "landing.html", context)


@router.post("/landing")
async def landing_submit(request: Request, token: str = Form(), phone: str = Form()) -> Response:
    sb = sandbox_of(request)
    payment = sb.store.payment_by_token(token)
    msisdn = re.sub(r"\D", "", phone)
    if payment is None or not MSISDN_RE.match(msisdn):
        raise HTTPException(400, "Enter the phone number as digits with country code")
    if payment.phone is None:
        payment.phone = msisdn
        sb.store.save_payment(payment)
        sb.changed()
    return RedirectResponse(f"{_root(request)}/phone/{payment.phone}", status_code=303)


@router.get("/qr/{token}.{ext}")
async def qr_image(request: Request, token: str, ext: str, size: int = 1024) -> Response:
    sb = sandbox_of(request)
    if sb.store.payment_by_token(token) is None or ext not in ("svg", "png"):
        raise HTTPException(404, "Unknown QR code")
    target = f"{base_url(request)}/landing?token={token}"
    qr = segno.make(target, error="m")
    if ext == "svg":
        return Response(_image(qr, "svg", 8), media_type="image/svg+xml")
    width = int(qr.symbol_size()[0])
    scale = max(1, min(2000, max(100, size)) // width)
    return Response(_image(qr, "png", scale), media_type="image/png")


def _image(qr: Any, kind: str, scale: int) -> bytes:
    """A standalone image file on a white background. (An SVG must be a whole document with
    the SVG namespace: browsers refuse an inline-style `<svg>` as an `<img>` source.)"""
    buffer = io.BytesIO()
    qr.save(buffer, kind=kind, scale=scale, light="#fff")
    return buffer.getvalue()
