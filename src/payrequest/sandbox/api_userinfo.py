"""Userinfo API: `GET /vipps-userinfo-api/userinfo/{sub}`, the profile a user shared in a payment.

What the emulator follows (the real Userinfo API v2, as used with ePayment profile sharing):
- Authentication as for the ePayment API: `Authorization: Bearer <access token from
  POST /accesstoken/get>` and `Ocp-Apim-Subscription-Key` (APIM-style 401 otherwise). The
  `Merchant-Serial-Number` header is optional; when given it must be the keys' own (403).
  Partner keys must send it, naming a linked unit (403 otherwise; docs/vipps.md#partner-keys).
- `sub` comes from GET payment's `profile.sub` once the payment is AUTHORIZED.
- 200 `application/json`: OpenID Connect claims, `sub` plus those of every scope the user has
  consented to share with this sales unit (see `profile` for scope -> claims), e.g.
  `{"sub": "…", "phone_number": "4791234567", "phone_number_verified": true}`.
- A `sub` no user shared anything under with this sales unit: 404 RFC 7807 problem.

Not emulated: the real API's one-week limit for fetching the data after the consent.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from payrequest.sandbox.gateway import calling_unit, check_bearer, sandbox_of
from payrequest.sandbox.problems import PlainProblem
from payrequest.sandbox.profile import claims

router = APIRouter(prefix="/vipps-userinfo-api")


@router.get("/userinfo/{sub}")
async def userinfo(sub: str, request: Request) -> JSONResponse:
    keys = check_bearer(request)
    sb = sandbox_of(request)
    msn = calling_unit(request, keys, required=False).msn
    consent = sb.store.consent(msn, sub)
    if consent is None:
        raise PlainProblem(
            404, "Not Found", "No user has shared information with this sales unit under this sub."
        )
    return JSONResponse(claims(sub, consent.msisdn, consent.scopes))
