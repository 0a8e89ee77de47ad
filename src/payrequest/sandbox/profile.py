"""Profile sharing: what a payment's `profile.scope` asks the user for, the `sub` that names the
user towards the merchant, and the OpenID Connect claims the Userinfo API returns for it.

Scopes are the ePayment ones (`name address email phoneNumber birthDate`, plus `nin` and
`accountNumbers` for approved sales units). The claims follow the Userinfo API (v2): one scope
gives these claims, and only consented scopes are returned, always with `sub`:

- `name` -> `name`, `given_name`, `family_name`
- `address` -> `address` {`street_address`, `postal_code`, `region`, `country`, `formatted`,
  `address_type`}, `other_addresses`
- `email` -> `email`, `email_verified`
- `phoneNumber` -> `phone_number` (MSISDN digits, e.g. `4791234567`), `phone_number_verified`
- `birthDate` -> `birthdate` (`YYYY-MM-DD`)
- `nin` -> `nin`; `accountNumbers` -> `accounts` [{`account_name`, `account_number`,
  `bank_name`}]

The emulator only knows a user's phone number; every other claim is made-up test data derived
from it, clearly fake (an `.invalid` email, "Testveien" street).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

SCOPES = ("name", "address", "email", "phoneNumber", "birthDate")
RESTRICTED_SCOPES = ("nin", "accountNumbers")  # only for sales units approved for them

# How the phone's consent screen names each scope ("<merchant> asks for: ...").
SCOPE_WORDS = {
    "name": "your name",
    "address": "your address",
    "email": "your email address",
    "phoneNumber": "your phone number",
    "birthDate": "your date of birth",
    "nin": "your national identity number",
    "accountNumbers": "your account numbers",
}

# Country calling code -> (ISO country, postal code, city) of the made-up test address.
_PLACES = (
    ("47", "NO", "0150", "Oslo"),
    ("45", "DK", "1050", "København K"),
    ("358", "FI", "00100", "Helsinki"),
)


def words(scope: str) -> list[str]:
    """The distinct scope values in request order."""
    return list(dict.fromkeys(scope.split()))


def consent_text(scope: str) -> str:
    """`your name, your email address and your phone number`."""
    parts = [SCOPE_WORDS[word] for word in words(scope)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def subject(key: bytes, msn: str, msisdn: str) -> str:
    """The stable, opaque `sub` of the user with this number towards this sales unit."""
    digest = hmac.new(key, f"{msn}:{msisdn}".encode(), hashlib.sha256).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def claims(sub: str, msisdn: str, scopes: list[str]) -> dict[str, Any]:
    """The Userinfo answer for the consented `scopes` of the user with this number."""
    result: dict[str, Any] = {"sub": sub}
    for scope in scopes:
        result.update(_CLAIMS[scope](msisdn))
    return result


def _name(msisdn: str) -> dict[str, Any]:
    family = f"Testbruker {msisdn[-4:]}"
    return {"name": f"Sandbox {family}", "given_name": "Sandbox", "family_name": family}


def _address(msisdn: str) -> dict[str, Any]:
    country, postal_code, city = next(
        ((c, p, town) for code, c, p, town in _PLACES if msisdn.startswith(code)),
        ("NO", "0150", "Oslo"),
    )
    street = f"Testveien {int(msisdn[-2:]) + 1}"
    return {
        "address": {
            "address_type": "home",
            "country": country,
            "formatted": f"{street}\n{postal_code} {city}",
            "postal_code": postal_code,
            "region": city,
            "street_address": street,
        },
        "other_addresses": [],
    }


def _accounts(msisdn: str) -> dict[str, Any]:
    number = ("1234" + msisdn)[-11:]
    return {
        "accounts": [
            {"account_name": "Brukskonto", "account_number": number, "bank_name": "Sandbox Bank"}
        ]
    }


_CLAIMS = {
    "name": _name,
    "address": _address,
    "email": lambda n: {"email": f"{n}@sandbox.invalid", "email_verified": True},
    "phoneNumber": lambda n: {"phone_number": n, "phone_number_verified": True},
    "birthDate": lambda n: {"birthdate": "1990-01-01"},
    "nin": lambda n: {"nin": "010190" + n[-5:]},
    "accountNumbers": _accounts,
}
