"""What Azure API Management checks before a request reaches the API: subscription key, bearer
token, MSN and rate limits. Its errors are APIM-shaped (`{"statusCode", "message"}`), not
RFC 7807 (docs/vipps.md#errors).
"""

from __future__ import annotations

import hmac
import math
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from payrequest.sandbox.emulator import Sandbox
from payrequest.sandbox.tokens import read_token

SUBSCRIPTION_HEADER = "Ocp-Apim-Subscription-Key"
MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key. Make sure to provide a valid key for an "
    "active subscription."
)


class GatewayError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"statusCode": self.status, "message": self.message}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def sandbox_of(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    return sb


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def check_subscription_key(request: Request) -> None:
    given = request.headers.get(SUBSCRIPTION_HEADER)
    if given is None:
        raise GatewayError(401, MISSING_KEY)
    if not same(given, sandbox_of(request).config.subscription_key):
        raise GatewayError(401, INVALID_KEY)


def check_bearer(request: Request) -> dict[str, Any]:
    """Subscription key plus a valid `Authorization: Bearer <token>` this emulator issued."""
    check_subscription_key(request)
    sb = sandbox_of(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:  # the scheme must be spelled `Bearer` exactly
        raise GatewayError(401, "Unauthorized. Access token is missing or invalid.")
    claims = read_token(sb.token_key, token.strip(), int(sb.clock.now().timestamp()))
    if claims is None or claims.get("azp") != sb.config.client_id:
        raise GatewayError(401, "Unauthorized. Access token is missing or invalid.")
    return claims


def rate_limit(request: Request, key: tuple[str, ...], limit: int) -> None:
    wait = sandbox_of(request).over_limit(key, limit)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise GatewayError(
            429,
            f"Rate limit is exceeded. Try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )
