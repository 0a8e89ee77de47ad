"""Links sent by email: a password reset (asked for on the sign-in page or sent by an
owner), an invitation (a new account's first password), and a sign-up's verification (the
address is the person's: they may sign in).

The token is signed (kit.signing: the app's secret key, one purpose each, a lifetime) and
carries the user's id and a fingerprint of the password hash as it was when the link was
made. Setting a password changes the hash, so a link works once; a newer password, or an
older link, no longer matches. Nothing is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from payrequest.kit.signing import SignedValues, TokenExpired, TokenInvalid
from payrequest.users.models import User

RESET = "password-reset"
INVITE = "staff-invite"
VERIFY = "email-verify"
LIFETIMES = {RESET: timedelta(hours=1), INVITE: timedelta(days=7), VERIFY: timedelta(days=3)}
# What a password link may be: a verification link never sets a password.
PASSWORD_LINKS = (RESET, INVITE)

__all__ = [
    "INVITE",
    "LIFETIMES",
    "PASSWORD_LINKS",
    "RESET",
    "VERIFY",
    "Claim",
    "TokenExpired",
    "TokenInvalid",
    "make",
    "read",
]


@dataclass(frozen=True, slots=True)
class Claim:
    """What a genuine, young enough token says; `matches(user)` tells if it is still unused."""

    purpose: str
    user_id: int
    fingerprint: str

    def matches(self, user: User) -> bool:
        return user.id == self.user_id and fingerprint(user.password_hash) == self.fingerprint


def fingerprint(password_hash: str) -> str:
    return hashlib.sha256(f"payrequest-password\0{password_hash}".encode()).hexdigest()[:24]


def make(key: str, user: User, purpose: str) -> str:
    return _signer(key, purpose).sign(f"{user.id}.{fingerprint(user.password_hash)}")


def read(key: str, token: str, purposes: Iterable[str] = PASSWORD_LINKS) -> Claim:
    """The claim of a token made for one of `purposes` (by default a reset or an invitation);
    TokenExpired or TokenInvalid otherwise."""
    expired = False
    for purpose in purposes:
        try:
            value = _signer(key, purpose).read(token)
        except TokenExpired:
            expired = True
            continue
        except TokenInvalid:
            continue
        user_id, _, print_ = value.partition(".")
        if not user_id.isdigit() or not print_:
            raise TokenInvalid
        return Claim(purpose=purpose, user_id=int(user_id), fingerprint=print_)
    raise TokenExpired if expired else TokenInvalid


def _signer(key: str, purpose: str) -> SignedValues:
    return SignedValues(key, purpose, LIFETIMES[purpose])
