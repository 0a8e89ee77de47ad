"""Receipt links: the payment reference signed with the app's secret key, for a limited time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from itsdangerous import TimestampSigner

from payrequest.kit.clock import utcnow
from payrequest.kit.signing import TokenExpired, TokenInvalid
from payrequest.kit.urls import RECEIPT_LIFETIME, PublicUrls

KEY = "a-secret-key-of-at-least-32-characters"
URLS = PublicUrls("https://pay.example.no", signing_key=KEY)


def _token(url: str) -> str:
    prefix = "https://pay.example.no/receipts/"
    assert url.startswith(prefix)
    return url.removeprefix(prefix)


def test_a_receipt_link_gives_back_its_reference_while_it_is_young() -> None:
    token = _token(URLS.receipt("pr-10001-abc123"))
    assert URLS.receipt_reference(token) == "pr-10001-abc123"
    later = utcnow() + RECEIPT_LIFETIME - timedelta(minutes=1)
    assert URLS.receipt_reference(token, now=later) == "pr-10001-abc123"


def test_a_receipt_link_expires_after_its_lifetime() -> None:
    token = _token(URLS.receipt("pr-10001-abc123", now=utcnow() - RECEIPT_LIFETIME - timedelta(1)))
    with pytest.raises(TokenExpired):
        URLS.receipt_reference(token)


@pytest.mark.parametrize(
    "forged",
    [
        lambda t: t.replace("pr-10001", "pr-10002"),  # another payment's reference
        lambda t: t[:-2],  # cut short
        lambda t: _token(PublicUrls("https://pay.example.no", signing_key="x" * 32).receipt("r")),
        # the session cookie's signer uses the same secret key, but not for receipts
        lambda t: TimestampSigner(KEY).sign("pr-10001-abc123").decode(),
        lambda t: "",
        lambda t: "ø" * 10,
        lambda t: "a" * 5000,
    ],
)
def test_a_token_we_did_not_make_for_receipts_is_refused(forged: Callable[[str], str]) -> None:
    token = _token(URLS.receipt("pr-10001-abc123"))
    with pytest.raises(TokenInvalid):
        URLS.receipt_reference(forged(token))


def test_without_a_signing_key_no_receipt_link_is_made() -> None:
    with pytest.raises(ValueError, match="signing key"):
        PublicUrls("https://pay.example.no").receipt("pr-10001-abc123")
