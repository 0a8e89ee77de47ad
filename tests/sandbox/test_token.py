"""Access Token API: credentials, string-typed fields, JWT shape, APIM errors."""

from __future__ import annotations

import base64
import json
import time

import httpx

from payrequest.sandbox.config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from payrequest.sandbox.config import DEFAULT_SUBSCRIPTION_KEY as SUB_KEY
from tests.sandbox.helpers import fetch_token

GOOD = {
    "client_id": DEFAULT_CLIENT_ID,
    "client_secret": DEFAULT_CLIENT_SECRET,
    "Ocp-Apim-Subscription-Key": SUB_KEY,
}


def _claims(token: str) -> dict[str, object]:
    part = token.split(".")[1]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


async def test_token_fields_are_strings_and_token_is_a_jwt(client: httpx.AsyncClient) -> None:
    response = await client.post("/accesstoken/get", headers=GOOD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    for name in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(body[name], str) and body[name].isdigit(), name
    assert body["expires_in"] == "3600"
    token = body["access_token"]
    assert len(token.split(".")) == 3
    assert len(token) > 1000  # as long as a real one: storage sized for less fails here
    claims = _claims(token)
    assert claims["exp"] == int(body["expires_on"])
    assert abs(int(body["not_before"]) - time.time()) < 5


async def test_tokens_carry_the_claims_of_a_real_one(client: httpx.AsyncClient) -> None:
    token = (await client.post("/accesstoken/get", headers=GOOD)).json()["access_token"]
    claims = _claims(token)
    for name in ("aud", "iss", "iat", "nbf", "exp", "aio", "appid", "oid", "sub", "tid", "ver"):
        assert name in claims, name
    signature = token.split(".")[2]
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 256


async def test_wrong_secret_is_401_aad_style(client: httpx.AsyncClient) -> None:
    """A known client with a wrong secret: invalid_client, AADSTS7000215, as Azure AD says."""
    response = await client.post("/accesstoken/get", headers={**GOOD, "client_secret": "nope"})
    assert response.status_code == 401
    body = response.json()
    assert (body["error"], body["error_codes"]) == ("invalid_client", [7000215])
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret")


async def test_wrong_client_id_is_401(client: httpx.AsyncClient) -> None:
    """An unknown client id: unauthorized_client, AADSTS700016."""
    response = await client.post("/accesstoken/get", headers={**GOOD, "client_id": "other"})
    assert response.status_code == 401
    body = response.json()
    assert (body["error"], body["error_codes"]) == ("unauthorized_client", [700016])
    assert body["error_description"].startswith("AADSTS700016: ")


async def test_bad_and_missing_subscription_key_give_apim_401(client: httpx.AsyncClient) -> None:
    bad = await client.post("/accesstoken/get", headers={**GOOD, "Ocp-Apim-Subscription-Key": "x"})
    assert bad.status_code == 401
    assert bad.json() == {"statusCode": 401, "message": bad.json()["message"]}
    assert "invalid subscription key" in bad.json()["message"]
    headers = {k: v for k, v in GOOD.items() if k != "Ocp-Apim-Subscription-Key"}
    missing = await client.post("/accesstoken/get", headers=headers)
    assert missing.status_code == 401
    assert "missing subscription key" in missing.json()["message"]


async def test_epayment_needs_bearer_token_it_issued(client: httpx.AsyncClient) -> None:
    token = await fetch_token(client)
    base = {"Ocp-Apim-Subscription-Key": SUB_KEY, "Merchant-Serial-Number": "123456"}
    path = "/epayment/v1/payments/abcdefgh-123"
    assert (
        await client.get(path, headers={**base, "Authorization": f"Bearer {token}"})
    ).status_code == 404
    # A signature with its first character changed: always another signature (the last
    # characters of base64url may carry padding bits, so changing those may change nothing).
    head, signature = token.rsplit(".", 1)
    tampered = f"{head}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    for auth in (token, f"bearer {token}", "Bearer abc.def.ghi", f"Bearer {tampered}"):
        response = await client.get(path, headers={**base, "Authorization": auth})
        assert response.status_code == 401, auth


async def test_expired_token_is_refused(client: httpx.AsyncClient, sb: object) -> None:
    token = await fetch_token(client)
    sb.clock.advance(3601)  # type: ignore[attr-defined]
    headers = {
        "Ocp-Apim-Subscription-Key": SUB_KEY,
        "Merchant-Serial-Number": "123456",
        "Authorization": f"Bearer {token}",
    }
    response = await client.get("/epayment/v1/payments/abcdefgh-123", headers=headers)
    assert response.status_code == 401


async def test_foreign_msn_is_403_and_missing_msn_is_400(client: httpx.AsyncClient) -> None:
    token = await fetch_token(client)
    base = {"Ocp-Apim-Subscription-Key": SUB_KEY, "Authorization": f"Bearer {token}"}
    body = {"reference": "abcdefgh-1"}
    other = await client.post(
        "/epayment/v1/payments",
        json=body,
        headers={**base, "Merchant-Serial-Number": "999999", "Idempotency-Key": "k"},
    )
    assert other.status_code == 403
    missing = await client.post(
        "/epayment/v1/payments", json=body, headers={**base, "Idempotency-Key": "k"}
    )
    assert missing.status_code == 400
    assert missing.json()["extraDetails"][0]["name"] == "Merchant-Serial-Number"
