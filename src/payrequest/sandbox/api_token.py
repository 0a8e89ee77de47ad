"""Access Token API: `POST /accesstoken/get` (docs/vipps.md#access-token).

The token carries the claims of the real one (an Azure AD application token: `aud`, `iss`,
`iat`, `nbf`, `exp`, `aio`, `appid`, `appidacr`, `idp`, `oid`, `rh`, `sub`, `tid`, `uti`,
`ver`), and the emulator's own `azp` (the client id the token was issued to) and `msn` (the
sales unit of those keys; partner keys get `partner: true` instead, docs/vipps.md#partner-keys);
with its long signature it is about 1,400 characters long, as real ones are.

Any known subscription key lets the call through the gateway; the client id and secret decide
whose token it is. API calls then check that the subscription key is of the same keys. With
automatic test units on, an automatic unit's client id and derived secret get a token too, and
the unit is known from then on (docs/vipps.md#automatic-test-units).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from payrequest.sandbox.emulator import Keys
from payrequest.sandbox.gateway import check_login_subscription_key, same, sandbox_of
from payrequest.sandbox.tokens import issue_token

router = APIRouter()
TOKEN_MEDIA_TYPE = "application/json;charset=UTF-8"  # noqa: S105 - not a secret
RESOURCE = "00000002-0000-0000-c000-000000000000"


def _aad_error(error: str, code: int, description: str) -> JSONResponse:
    """Azure AD style error body, as the token endpoint answers bad client credentials: an
    unknown client id is `unauthorized_client` 700016, a wrong secret for a known client is
    `invalid_client` 7000215 (the description starts with AADSTS and the code)."""
    body: dict[str, Any] = {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": secrets.token_hex(16),
        "correlation_id": secrets.token_hex(16),
        "error_uri": f"https://login.windows.net/error?code={code}",
    }
    return JSONResponse(body, status_code=401)


@router.post("/accesstoken/get")
@router.post("/accessToken/get", include_in_schema=False)
async def get_token(request: Request) -> JSONResponse:
    check_login_subscription_key(request)
    sb = sandbox_of(request)
    client_id = request.headers.get("client_id")
    secret = request.headers.get("client_secret")
    if client_id is None or secret is None:
        return _aad_error(
            "invalid_request", 900144, "The request body must contain client_id and client_secret."
        )
    keys = sb.keys_by_client_id(client_id)
    if keys is None:
        return _aad_error(
            "unauthorized_client",
            700016,
            "Application with the given identifier was not found in the directory.",
        )
    if not same(secret, keys.client_secret):
        return _aad_error(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the "
            "client secret value, not the client secret ID.",
        )
    sb.logged_in(keys)  # an automatic test unit is known from now on
    now = int(sb.clock.now().timestamp())
    lifetime = sb.config.token_lifetime
    body = {
        "token_type": "Bearer",
        "expires_in": str(lifetime),
        "ext_expires_in": "0",
        "expires_on": str(now + lifetime),
        "not_before": str(now),
        "resource": RESOURCE,
        "access_token": issue_token(sb.token_key, _claims(keys, now, lifetime), KEY_ID),
    }
    return JSONResponse(body, media_type=TOKEN_MEDIA_TYPE)


KEY_ID = "sandbox-key-1"
TENANT = "b9c2c1a6-2c60-4f2c-8a8e-6f1b7c0e5d11"  # made up, one for every emulator


def _claims(keys: Keys, now: int, lifetime: int) -> dict[str, Any]:
    """The claims of an application token like the real one's, plus `azp` and the unit's `msn`
    (or `partner` for partner keys)."""
    app = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-client:{keys.client_id}"))
    issuer = f"https://sts.windows.net/{TENANT}/"
    return {
        "aud": RESOURCE,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "aio": _random_b64(96),
        "appid": app,
        "appidacr": "1",
        "idp": issuer,
        "oid": app,
        "rh": "0." + _random_b64(60).rstrip("=") + ".",
        "sub": app,
        "tid": TENANT,
        "uti": _random_b64(16).rstrip("=").replace("+", "-").replace("/", "_"),
        "ver": "1.0",
        "azp": keys.client_id,
        **({"partner": True} if keys.msn is None else {"msn": keys.msn}),
    }


def _random_b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode("ascii")
