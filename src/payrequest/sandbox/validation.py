"""Validation of ePayment request bodies, in the order and with the codes Vipps uses.

Field-format problems are `400 Bad Request` with per-field `extraDetails`; business rules raise
an ErrorCode (docs/vipps.md#creating-a-payment, docs/vipps.md#errors).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from payrequest.sandbox.clock import parse_rfc3339
from payrequest.sandbox.problems import ApiError, validation
from payrequest.sandbox.profile import RESTRICTED_SCOPES, SCOPES
from payrequest.sandbox.receipts import check_industry_data, check_receipt

REFERENCE_PATTERN = "^[a-zA-Z0-9-]{8,64}$"
REFERENCE_RE = re.compile(REFERENCE_PATTERN)
MSISDN_RE = re.compile(r"^\d{10,15}$")
MAX_AMOUNT = 65_000_000
MINIMUM_AMOUNT = {"NOK": 100, "DKK": 1, "EUR": 1}
CURRENCIES = ("NOK", "DKK", "EUR")
USER_FLOWS = ("PUSH_MESSAGE", "NATIVE_REDIRECT", "WEB_REDIRECT", "QR")
PAYMENT_METHODS = ("WALLET", "CARD")
QR_FORMATS = ("TEXT/TARGETURL", "IMAGE/SVG+XML", "IMAGE/PNG")
CUSTOMER_INTERACTIONS = ("CUSTOMER_PRESENT", "CUSTOMER_NOT_PRESENT")
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
CREATE_FIELDS = frozenset(
    {
        "amount",
        "customer",
        "customerInteraction",
        "industryData",
        "paymentMethod",
        "profile",
        "reference",
        "returnUrl",
        "userFlow",
        "expiresAt",
        "qrFormat",
        "paymentDescription",
        "receipt",
        "metadata",
        "receiptUrl",
        "minimumUserAge",
        "shipping",
        "blockedSources",
    }
)
# Headers that name the calling system for support; each at most 30 characters.
SYSTEM_HEADERS = (
    "Vipps-System-Name",
    "Vipps-System-Version",
    "Vipps-System-Plugin-Name",
    "Vipps-System-Plugin-Version",
)
SYSTEM_HEADER_MAX = 30
MIN_EXPIRY = timedelta(minutes=10)
MAX_EXPIRY = {"NO": timedelta(hours=24), "DK": timedelta(days=60), "FI": timedelta(days=60)}
MAX_EXPIRY_TEXT = {"NO": "24 hours", "DK": "60 days", "FI": "60 days"}


class DuplicateKeys(dict[str, Any]):
    """A JSON object that had a repeated key (kept so metadata can report 4110)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    return DuplicateKeys(pairs) if len(set(keys)) != len(keys) else dict(pairs)


def parse_body(raw: bytes, *, required: bool) -> dict[str, Any]:
    """The JSON object in `raw`; `{}` for an empty optional body."""
    if not raw.strip():
        if required:
            raise validation("body", "A non-empty request body is required.")
        return {}
    try:
        body = json.loads(raw, object_pairs_hook=_pairs)
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation("body", f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise validation("body", "The request body must be a JSON object.")
    return body


def check_system_headers(headers: Mapping[str, str]) -> None:
    """The `Vipps-System-*` headers are optional, but at most 30 characters each."""
    for name in SYSTEM_HEADERS:
        value = headers.get(name)
        if value is not None and len(value) > SYSTEM_HEADER_MAX:
            raise validation(
                name,
                f"The field {name} must be a string with a maximum length of {SYSTEM_HEADER_MAX}.",
            )


def check_reference(reference: str, name: str = "reference") -> None:
    if not REFERENCE_RE.match(reference):
        raise validation(
            name, f"The field Reference must match the regular expression '{REFERENCE_PATTERN}'."
        )


def check_amount(value: Any, name: str = "amount") -> tuple[str, int]:
    """(currency, value) of an Amount object; 4140 when missing, 4040 when not an integer."""
    if not isinstance(value, dict):
        raise ApiError(4140, why=name)
    currency, minor = value.get("currency"), value.get("value")
    if currency is None or minor is None:
        raise ApiError(4140, why=f"{name}.currency" if currency is None else f"{name}.value")
    if currency not in CURRENCIES:
        raise validation(f"{name}.currency", f"Currency must be one of {', '.join(CURRENCIES)}.")
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise ApiError(4040, why="the value must be an integer number of minor units")
    if minor < 0 or minor > MAX_AMOUNT:
        raise ApiError(4040, why=f"the value must be between 0 and {MAX_AMOUNT}")
    return currency, minor


def check_url(url: Any, name: str, allow_http_loopback: bool) -> None:
    if not isinstance(url, str) or not url:
        raise ApiError(4090, why=name)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https" and parts.hostname:
        return
    if scheme == "http" and allow_http_loopback and is_loopback(parts.hostname):
        return
    if scheme and scheme not in ("http", "https", "javascript", "data", "file"):
        return  # a custom app scheme such as myapp://
    raise ApiError(4090, why=name)


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class CreateRequest:
    reference: str
    currency: str
    value: int
    user_flow: str
    payment_method: str
    phone: str | None
    description: str | None
    return_url: str | None
    expires_at: datetime | None
    receipt: dict[str, Any] | None
    metadata: dict[str, str] | None
    qr_format: str | None
    qr_size: int | None
    profile_scope: str | None


@dataclass
class SalesUnit:
    market: str
    currency: str
    long_living_approved: bool
    push_message_approved: bool
    allow_http_loopback: bool
    unknown_users: frozenset[str] = frozenset()
    restricted_scopes_allowed: bool = False  # approved for profile scopes nin, accountNumbers
    bank_account_verified: bool = True  # else the sales unit cannot receive payments (5060)


def check_create(body: dict[str, Any], unit: SalesUnit, now: datetime) -> CreateRequest:
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown:
        raise validation(unknown[0], f"Unknown field '{unknown[0]}'.")
    for name in ("amount", "paymentMethod", "reference", "userFlow"):
        if body.get(name) is None:
            raise ApiError(4140, why=name)
    reference = body["reference"]
    if not isinstance(reference, str):
        raise validation("reference", "The field Reference must be a string.")
    check_reference(reference)
    currency, value = check_amount(body["amount"])
    flow, method = _check_flow(body, unit)
    if currency != unit.currency:
        raise ApiError(5040, why=unit.currency)
    if value < MINIMUM_AMOUNT[currency]:
        raise ApiError(6010, why=f"{currency} is {MINIMUM_AMOUNT[currency]} minor units")
    phone = _check_customer(body.get("customer"))
    if phone is not None and phone in unit.unknown_users:
        raise ApiError(7010)  # no Vipps/MobilePay user who can pay businesses has this number
    if flow == "PUSH_MESSAGE" and phone is None:
        raise ApiError(4140, why="customer")
    return_url = body.get("returnUrl")
    if flow == "WEB_REDIRECT" and return_url is None:
        raise ApiError(4140, why="returnUrl")
    if return_url is not None:
        check_url(return_url, "returnUrl", unit.allow_http_loopback)
    if body.get("receiptUrl") is not None:
        check_url(body["receiptUrl"], "receiptUrl", unit.allow_http_loopback)
    description = _check_description(body.get("paymentDescription"))
    metadata = _check_metadata(body.get("metadata"))
    qr_format, qr_size = _check_qr(body.get("qrFormat"), flow)
    scope = _check_profile(body.get("profile"), unit)
    receipt = check_receipt(body.get("receipt"))
    check_industry_data(body.get("industryData"))
    _check_interaction(body.get("customerInteraction"))
    expires_at = _check_expiry(body.get("expiresAt"), flow, receipt, unit, now)
    _check_age(body.get("minimumUserAge"))
    if not unit.bank_account_verified:
        raise ApiError(5060)
    return CreateRequest(
        reference,
        currency,
        value,
        flow,
        method,
        phone,
        description,
        return_url,
        expires_at,
        receipt,
        metadata,
        qr_format,
        qr_size,
        scope,
    )


def _check_flow(body: dict[str, Any], unit: SalesUnit) -> tuple[str, str]:
    flow = body["userFlow"]
    if flow not in USER_FLOWS:
        raise validation("userFlow", f"userFlow must be one of {', '.join(USER_FLOWS)}.")
    method_obj = body["paymentMethod"]
    method = method_obj.get("type") if isinstance(method_obj, dict) else None
    if method is None:
        raise ApiError(4140, why="paymentMethod.type")
    if method == "CARD_PASSTHROUGH":
        raise ApiError(4160, why="CARD_PASSTHROUGH is only available to PSPs.")
    if method not in PAYMENT_METHODS:
        raise validation("paymentMethod.type", "type must be WALLET or CARD.")
    if method == "CARD" and flow != "WEB_REDIRECT":
        raise validation("userFlow", "paymentMethod CARD can only be used with WEB_REDIRECT.")
    if flow == "PUSH_MESSAGE" and not unit.push_message_approved:
        raise ApiError(5080)
    return flow, method


def _check_customer(customer: Any) -> str | None:
    """The MSISDN the payment goes to, if one is known."""
    if customer is None:
        return None
    if not isinstance(customer, dict) or len(customer) != 1:
        raise validation(
            "customer", "Specify exactly one of phoneNumber, personalQr or customerToken."
        )
    ((kind, value),) = customer.items()
    if kind == "phoneNumber":
        if not isinstance(value, str) or not MSISDN_RE.match(value):
            raise ApiError(4070)
        return value
    if kind == "personalQr":
        found = re.search(r"(\d{10,15})", value) if isinstance(value, str) else None
        if not isinstance(value, str) or not 5 <= len(value) <= 255 or found is None:
            raise ApiError(4060)
        return found.group(1)
    if kind == "customerToken":
        raise ApiError(4050)  # the emulator issues no check-in tokens, so none is valid
    raise validation("customer", f"Unknown customer field '{kind}'.")


def _check_description(text: Any) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str) or not 3 <= len(text) <= 100:
        raise validation(
            "paymentDescription",
            "The field PaymentDescription must be a string with a minimum length of 3 and a "
            "maximum length of 100.",
        )
    return text


def _check_metadata(metadata: Any) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise validation("metadata", "metadata must be an object of strings.")
    if isinstance(metadata, DuplicateKeys):
        raise ApiError(4110)
    if len(metadata) > 5:
        raise ApiError(4100)
    for key, value in metadata.items():
        if len(key) > 100:
            raise ApiError(4120)
        if not isinstance(value, str):
            raise validation(f"metadata.{key}", "metadata values must be strings.")
        if len(value) > 500:
            raise ApiError(4130)
    return dict(metadata)


def _check_qr(qr: Any, flow: str) -> tuple[str | None, int | None]:
    if flow != "QR":
        return None, None
    if qr is None:
        return "IMAGE/SVG+XML", None
    fmt = qr.get("format") if isinstance(qr, dict) else None
    if fmt not in QR_FORMATS:
        raise validation("qrFormat.format", f"format must be one of {', '.join(QR_FORMATS)}.")
    size = qr.get("size")
    if size is not None and (not isinstance(size, int) or not 100 <= size <= 2000):
        raise validation("qrFormat.size", "size must be an integer from 100 to 2000.")
    return fmt, size


def _check_profile(profile: Any, unit: SalesUnit) -> str | None:
    """The space-separated scope (4080 for an unknown value, 5030 for a restricted one)."""
    if profile is None:
        return None
    if not isinstance(profile, dict):
        raise validation("profile", "profile must be an object with a scope string.")
    scope = profile.get("scope")
    if scope is None:
        return None
    if not isinstance(scope, str):
        raise validation("profile.scope", "scope must be a space-separated string.")
    words = scope.split()
    bad = [word for word in words if word not in SCOPES + RESTRICTED_SCOPES]
    if bad or not words:
        raise ApiError(4080, why=" ".join(bad) or "(empty)")
    restricted = [word for word in words if word in RESTRICTED_SCOPES]
    if restricted and not unit.restricted_scopes_allowed:
        raise ApiError(5030, why=" ".join(restricted))
    return " ".join(dict.fromkeys(words))


def _check_interaction(interaction: Any) -> None:
    if interaction is not None and interaction not in CUSTOMER_INTERACTIONS:
        raise validation(
            "customerInteraction",
            f"customerInteraction must be one of {', '.join(CUSTOMER_INTERACTIONS)}.",
        )


def _check_expiry(
    raw: Any, flow: str, receipt: dict[str, Any] | None, unit: SalesUnit, now: datetime
) -> datetime | None:
    if raw is None:
        return None
    moment = parse_rfc3339(raw) if isinstance(raw, str) else None
    if moment is None:
        raise validation("expiresAt", "expiresAt must be an RFC 3339 date-time with a zone.")
    if flow not in ("PUSH_MESSAGE", "QR"):
        raise validation("expiresAt", "expiresAt can only be used with PUSH_MESSAGE or QR.")
    if not unit.long_living_approved:
        raise ApiError(5050)
    if moment <= now + MIN_EXPIRY:
        raise ApiError(6120)
    if moment > now + MAX_EXPIRY[unit.market]:
        raise ApiError(6110, why=MAX_EXPIRY_TEXT[unit.market])
    if receipt is None:
        raise ApiError(6130)
    return moment


def _check_age(age: Any) -> None:
    if age is not None and (
        isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 100
    ):
        raise validation("minimumUserAge", "minimumUserAge must be an integer from 0 to 100.")
