"""What Azure API Management checks before a request reaches the API: subscription key, bearer
token, MSN and rate limits. Its errors are APIM-shaped (`{"statusCode", "message"}`), not
RFC 7807 (docs/vipps.md#errors).

Keys and units (docs/vipps.md#partner-keys): the subscription key names one set of keys, a
sales unit's or a partner's, and the token must have been issued to the same keys' client id.
The unit a call is for is its `Merchant-Serial-Number`: with a unit's keys only that unit's
own MSN (the header may then be left out where the API allows it), with partner keys any
linked unit's, and the header is then always needed. Anything else is 403. Automatic test
units (docs/vipps.md#automatic-test-units) are units like the others once their keys got a
token; before that only the token endpoint lets their subscription key through.
"""

from __future__ import annotations

import hmac
import math
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from payrequest.sandbox.config import SalesUnitConfig
from payrequest.sandbox.emulator import Keys, Sandbox
from payrequest.sandbox.problems import PlainProblem, validation
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


def check_subscription_key(request: Request) -> Keys:
    """The keys whose subscription key the request carries (any unit's or partner's)."""
    given = request.headers.get(SUBSCRIPTION_HEADER)
    if given is None:
        raise GatewayError(401, MISSING_KEY)
    keys = sandbox_of(request).keys_by_subscription(given)
    if keys is None:
        raise GatewayError(401, INVALID_KEY)
    return keys


def check_login_subscription_key(request: Request) -> None:
    """What the gateway checks at the token endpoint: any known subscription key, or one of
    an automatic test unit not yet used (its client id and secret decide)."""
    given = request.headers.get(SUBSCRIPTION_HEADER)
    if given is None:
        raise GatewayError(401, MISSING_KEY)
    if not sandbox_of(request).subscription_known(given):
        raise GatewayError(401, INVALID_KEY)


def check_bearer(request: Request) -> Keys:
    """Subscription key plus a valid `Authorization: Bearer <token>` this emulator issued to
    the same keys (a token of one unit's keys with another's subscription key is 401)."""
    keys = check_subscription_key(request)
    sb = sandbox_of(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme != "Bearer" or not token:  # the scheme must be spelled `Bearer` exactly
        raise GatewayError(401, "Unauthorized. Access token is missing or invalid.")
    claims = read_token(sb.token_key, token.strip(), int(sb.clock.now().timestamp()))
    if claims is None or claims.get("azp") != keys.client_id:
        raise GatewayError(401, "Unauthorized. Access token is missing or invalid.")
    return keys


FOREIGN_MSN = "The Merchant-Serial-Number does not belong to these API keys."
PARTNER_NEEDS_MSN = "Partner keys must name the sales unit in the Merchant-Serial-Number header."


def calling_unit(request: Request, keys: Keys, *, required: bool) -> SalesUnitConfig:
    """The sales unit a call is for. A missing `Merchant-Serial-Number` is a 400 where the API
    requires it (`required`, ePayment); elsewhere it means the unit of the keys, and partner
    keys, which have none, get 403. An MSN the keys may not act for is 403."""
    sb = sandbox_of(request)
    msn = request.headers.get("Merchant-Serial-Number")
    if msn is None:
        if required:
            raise validation(
                "Merchant-Serial-Number", "The Merchant-Serial-Number header is required."
            )
        if keys.msn is None:
            raise PlainProblem(403, "Forbidden", PARTNER_NEEDS_MSN)
        msn = keys.msn
    unit = sb.find_unit(msn)
    if unit is not None and keys.partner and msn not in keys.linked:
        # An automatic unit learnt of after these keys were looked up.
        keys = sb.keys_by_subscription(keys.subscription_key) or keys
    if unit is None or msn not in keys.linked:
        raise PlainProblem(403, "Forbidden", FOREIGN_MSN)
    return unit


def rate_limit(request: Request, key: tuple[str, ...], limit: int) -> None:
    wait = sandbox_of(request).over_limit(key, limit)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise GatewayError(
            429,
            f"Rate limit is exceeded. Try again in {seconds} seconds.",
            headers={"Retry-After": str(seconds)},
        )
