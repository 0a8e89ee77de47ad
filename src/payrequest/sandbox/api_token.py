"""Access Token API: `POST /accesstoken/get` (docs/vipps.md#access-token)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from payrequest.sandbox.gateway import check_subscription_key, same, sandbox_of
from payrequest.sandbox.tokens import issue_token

router = APIRouter()
TOKEN_MEDIA_TYPE = "application/json;charset=UTF-8"  # noqa: S105 - not a secret
RESOURCE = "00000002-0000-0000-c000-000000000000"


def _aad_error(description: str) -> JSONResponse:
    """Azure AD style error body, as the token endpoint answers bad client credentials."""
    body: dict[str, Any] = {
        "error": "unauthorized_client",
        "error_description": description,
        "error_codes": [700016],
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
        "trace_id": secrets.token_hex(16),
        "correlation_id": secrets.token_hex(16),
        "error_uri": "https://login.windows.net/error?code=700016",
    }
    return JSONResponse(body, status_code=401)


@router.post("/accesstoken/get")
@router.post("/accessToken/get", include_in_schema=False)
async def get_token(request: Request) -> JSONResponse:
    check_subscription_key(request)
    sb = sandbox_of(request)
    client_id = request.headers.get("client_id")
    secret = request.headers.get("client_secret")
    if client_id is None or secret is None:
        return _aad_error("The request must contain the client_id and client_secret headers.")
    if not same(client_id, sb.config.client_id) or not same(secret, sb.config.client_secret):
        return _aad_error("The client_id or client_secret is wrong.")
    now = int(sb.clock.now().timestamp())
    lifetime = sb.config.token_lifetime
    claims = {
        "aud": RESOURCE,
        "iss": "https://sandbox.payrequest.invalid/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "azp": sb.config.client_id,
        "msn": sb.config.msn,
    }
    body = {
        "token_type": "Bearer",
        "expires_in": str(lifetime),
        "ext_expires_in": "0",
        "expires_on": str(now + lifetime),
        "not_before": str(now),
        "resource": RESOURCE,
        "access_token": issue_token(sb.token_key, claims),
    }
    return JSONResponse(body, media_type=TOKEN_MEDIA_TYPE)
