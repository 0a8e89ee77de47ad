"""One API call: its account (from the secret key), decoded parameters, request id and
idempotency key, and how its answer is made (docs/stripe.md#requests).

Keys come as `Authorization: Bearer sk_test_...` or HTTP Basic with the key as user name.
POST parameters are the form body, GET and DELETE ones the query string. A POST with an
`Idempotency-Key` keeps its answer for 24 hours (clock time): the same key with the same
endpoint and parameters replays it (`Idempotent-Replayed: true`, `Original-Request`), with
anything else it is 400 `idempotency_error`. Answers to invalid parameters are not kept.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from payrequest.sandbox.stripe import forms
from payrequest.sandbox.stripe.emulator import Account, Origin, StoredAnswer, StripeEmulator
from payrequest.sandbox.stripe.errors import (
    StripeApiError,
    bad_api_key,
    idempotency_mismatch,
    invalid,
    key_in_use,
    no_api_key,
)

KEPT_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def stripe_of(request: Request) -> StripeEmulator:
    emu: StripeEmulator = request.app.state.stripe
    return emu


def mount_root(request: Request) -> str:
    """The path the app is mounted at (`root_path`), without a trailing slash."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def route_path(request: Request) -> str:
    """The request's path below the mount point, e.g. `/v1/refunds`."""
    path: str = request.scope["path"]
    root = mount_root(request)
    return path[len(root) :] if root and path.startswith(root) else path


def hosted_base(request: Request) -> str:
    """Absolute URL of the emulator's root including the mount prefix."""
    return f"{request.url.scheme}://{request.url.netloc}{mount_root(request)}"


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "req_unknown"))


@dataclass
class Call:
    emu: StripeEmulator
    account: Account
    params: dict[str, Any]
    request_id: str
    idempotency_key: str | None
    version: str
    hosted_base: str
    endpoint: str  # e.g. "POST /v1/refunds"

    @property
    def origin(self) -> Origin:
        return Origin(self.request_id, self.idempotency_key)


def account_of(emu: StripeEmulator, request: Request) -> Account:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    key = ""
    if scheme.lower() == "bearer":
        key = value.strip()
    elif scheme.lower() == "basic":
        try:
            key = base64.b64decode(value.strip()).decode("utf-8").split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            key = ""
    if not key:
        raise no_api_key()
    account = emu.account(key)
    if account is None:
        raise bad_api_key(key)
    return account


async def api_call(request: Request) -> Call:
    """FastAPI dependency of every API route: authenticates and decodes the parameters."""
    emu = stripe_of(request)
    account = account_of(emu, request)
    if request.method == "POST":
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise invalid("The request body is not valid UTF-8.") from exc
        pairs = parse_qsl(text, keep_blank_values=True)
    else:
        pairs = list(request.query_params.multi_items())
    key = request.headers.get("idempotency-key") if request.method == "POST" else None
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise invalid("Idempotency keys are 1 to 255 characters.", "Idempotency-Key")
    return Call(
        emu=emu,
        account=account,
        params=forms.decode(pairs),
        request_id=request_id_of(request),
        idempotency_key=key,
        version=request.headers.get("stripe-version") or emu.config.api_version,
        hosted_base=hosted_base(request),
        endpoint=f"{request.method} {route_path(request)}",
    )


def answer(call: Call, make: Callable[[], dict[str, Any]]) -> Response:
    """Run `make` and answer its object, keeping or replaying it under the idempotency key."""
    key = call.idempotency_key
    if key is None:
        return JSONResponse(make())
    account, now = call.account, call.emu.clock.now()
    for old in [k for k, a in account.answers.items() if now - a.stored_at > KEPT_FOR]:
        del account.answers[old]
    fingerprint = json.dumps(call.params, sort_keys=True)
    kept = account.answers.get(key)
    if kept is not None:
        if kept.endpoint != call.endpoint or kept.fingerprint != fingerprint:
            raise idempotency_mismatch(key)
        headers = {
            "Idempotency-Key": key,
            "Idempotent-Replayed": "true",
            "Original-Request": kept.request_id,
        }
        return Response(kept.body, kept.status, headers, media_type="application/json")
    if key in account.in_flight:
        raise key_in_use(key)
    account.in_flight.add(key)
    try:
        try:
            status, body = 200, make()
        except StripeApiError as exc:
            if not exc.stored:
                raise
            status, body = exc.status, exc.body()
        content = json.dumps(body).encode("utf-8")
        account.answers[key] = StoredAnswer(
            call.endpoint, fingerprint, status, content, call.request_id, now
        )
        return Response(content, status, {"Idempotency-Key": key}, media_type="application/json")
    finally:
        account.in_flight.discard(key)


async def error_response(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StripeApiError)
    return JSONResponse(exc.body(), exc.status)
