"""Webhook HMAC (docs/vipps.md#webhook-signatures): the official and our vector; what is refused."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payrequest.providers.base import WebhookRejected
from payrequest.providers.vipps import signature
from payrequest.providers.vipps.signature import (
    authorization,
    content_hash,
    string_to_sign,
    url_parts,
    verify,
)

PREFIX = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature="

# The official test vector, published with the signing scheme.
SECRET = "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A=="
URL = "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63"
BODY = b'{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}'
DATE = "Thu, 30 Mar 2023 08:38:32 GMT"
SENT = datetime(2023, 3, 30, 8, 38, 32, tzinfo=UTC)
HASH = "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4="
TO_SIGN = (
    "POST\n/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63\n"
    "Thu, 30 Mar 2023 08:38:32 GMT;webhook.site;lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4="
)
AUTHORIZATION = PREFIX + "agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U="
# The same request signed with the base64-DECODED secret as key (a classic mistake).
DECODED_KEY_AUTHORIZATION = PREFIX + "T3+NXHMmhNVEjW5PeJ4Gql70nf0MOXCAY9CoZDxuVQw="

# A second vector of ours, same algorithm: a query string and a non-default port.
SECRET_2 = "090a478d-37ff-4e77-970e-d457aeb26a3a"
URL_2 = "https://example.com:8443/hooks/vipps?env=test"
DATE_2 = "Mon, 19 Jan 2026 16:26:33 GMT"
SENT_2 = datetime(2026, 1, 19, 16, 26, 33, tzinfo=UTC)
BODY_2 = (
    b'{"msn":"123456","reference":"acme-shop-123-order123abc",'
    b'"pspReference":"dd8e0a8e-2b26-40ed-98f1-1d5832fc129f","name":"AUTHORIZED",'
    b'"amount":{"currency":"NOK","value":49900},"timestamp":"2026-01-19T16:26:32.099Z",'
    b'"idempotencyKey":"7c8b81e7-b08b-46e4-9729-191cb801c132","success":true}'
)
HASH_2 = "RPYlXrJ8cvZrUj9Od+KEKzwh+CcAKTQFt4l56m3OK24="
TO_SIGN_2 = (
    "POST\n/hooks/vipps?env=test\n"
    "Mon, 19 Jan 2026 16:26:33 GMT;example.com:8443;RPYlXrJ8cvZrUj9Od+KEKzwh+CcAKTQFt4l56m3OK24="
)
AUTHORIZATION_2 = PREFIX + "I3/veg+417V51DKaHi9G4UFEmz+DYONvaFFdn3oA32s="


def headers(
    *,
    auth: str | None = AUTHORIZATION,
    date: str | None = DATE,
    body_hash: str | None = HASH,
    host: str = "webhook.site",
) -> dict[str, str]:
    out = {
        "Host": host,
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Vipps MobilePay/1.0 Webhooks/1.0",
    }
    if auth is not None:
        out["Authorization"] = auth
    if date is not None:
        out["x-ms-date"] = date
    if body_hash is not None:
        out["x-ms-content-sha256"] = body_hash
    return out


def rejected(
    *,
    body: bytes = BODY,
    hdrs: dict[str, str] | None = None,
    url: str = URL,
    secrets: tuple[str, ...] = (SECRET,),
    now: datetime | None = SENT,
) -> bool:
    try:
        verify(body=body, headers=hdrs or headers(), url=url, secrets=secrets, now=now)
    except WebhookRejected:
        return True
    return False


# --- the vectors ------------------------------------------------------------------------------


def test_official_vector_content_hash() -> None:
    assert content_hash(BODY) == HASH


def test_official_vector_string_to_sign() -> None:
    assert string_to_sign(URL, DATE, HASH) == TO_SIGN


def test_official_vector_authorization() -> None:
    assert authorization(SECRET, URL, DATE, BODY) == AUTHORIZATION


def test_second_vector_query_and_port() -> None:
    assert content_hash(BODY_2) == HASH_2
    assert string_to_sign(URL_2, DATE_2, HASH_2) == TO_SIGN_2
    assert authorization(SECRET_2, URL_2, DATE_2, BODY_2) == AUTHORIZATION_2


def test_negative_vector_is_what_a_decoded_key_would_give() -> None:
    """Sanity of the fixture: the negative vector really is HMAC with the decoded secret."""
    digest = hmac.new(base64.b64decode(SECRET), TO_SIGN.encode(), hashlib.sha256).digest()
    assert PREFIX + base64.b64encode(digest).decode() == DECODED_KEY_AUTHORIZATION
    assert DECODED_KEY_AUTHORIZATION != AUTHORIZATION


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (URL, ("/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63", "webhook.site")),
        (URL_2, ("/hooks/vipps?env=test", "example.com:8443")),
        ("https://example.com:443/hook", ("/hook", "example.com")),  # default port dropped
        ("http://example.com:80/hook", ("/hook", "example.com")),
        ("http://example.com:8080/hook", ("/hook", "example.com:8080")),
        ("https://example.com:80/hook", ("/hook", "example.com:80")),  # 80 is not https's
        ("https://example.com", ("/", "example.com")),  # no path: "/"
        ("https://example.com?a=1&b=2", ("/?a=1&b=2", "example.com")),
    ],
)
def test_url_parts_follow_uri_path_and_query_and_authority(
    url: str, expected: tuple[str, str]
) -> None:
    assert url_parts(url) == expected


def test_string_to_sign_uses_lf_and_no_trailing_newline() -> None:
    text = string_to_sign(URL, DATE, HASH)
    assert "\r" not in text
    assert not text.endswith("\n")
    assert text.count("\n") == 2
    assert text.startswith("POST\n")


# --- verify accepts -------------------------------------------------------------------------


def test_genuine_request_is_accepted() -> None:
    verify(body=BODY, headers=headers(), url=URL, secrets=[SECRET], now=SENT)


def test_genuine_second_vector_is_accepted() -> None:
    hdrs = headers(auth=AUTHORIZATION_2, date=DATE_2, body_hash=HASH_2, host="example.com:8443")
    verify(body=BODY_2, headers=hdrs, url=URL_2, secrets=[SECRET_2], now=SENT_2)


def test_without_now_the_date_is_not_checked() -> None:
    """Re-reading a stored delivery years later: signature only."""
    verify(body=BODY, headers=headers(), url=URL, secrets=[SECRET], now=None)


def test_x_vipps_authorization_when_authorization_is_missing() -> None:
    hdrs = headers(auth=None)
    hdrs["X-Vipps-Authorization"] = AUTHORIZATION
    verify(body=BODY, headers=hdrs, url=URL, secrets=[SECRET], now=SENT)


def test_x_vipps_authorization_when_a_proxy_put_basic_auth_in_authorization() -> None:
    hdrs = headers(auth="Basic dXNlcjpwYXNzd29yZA==")
    hdrs["X-Vipps-Authorization"] = AUTHORIZATION
    verify(body=BODY, headers=hdrs, url=URL, secrets=[SECRET], now=SENT)


def test_a_garbage_x_vipps_authorization_does_not_spoil_a_good_authorization() -> None:
    hdrs = headers()
    hdrs["X-Vipps-Authorization"] = "nonsense"
    verify(body=BODY, headers=hdrs, url=URL, secrets=[SECRET], now=SENT)


@pytest.mark.parametrize("case", [str.upper, str.lower, str.title])
def test_header_names_are_case_insensitive(case: Callable[[str], str]) -> None:
    hdrs = {case(name): value for name, value in headers().items()}
    verify(body=BODY, headers=hdrs, url=URL, secrets=[SECRET], now=SENT)
    moved = {case(name): value for name, value in headers(auth=None).items()}
    moved[case("X-Vipps-Authorization")] = AUTHORIZATION
    verify(body=BODY, headers=moved, url=URL, secrets=[SECRET], now=SENT)


@pytest.mark.parametrize(
    "secrets",
    [
        ("someone-elses-secret", SECRET),
        (SECRET, "someone-elses-secret"),
        ("a", "b", SECRET_2, SECRET),
    ],
)
def test_one_matching_secret_of_several_is_enough(secrets: tuple[str, ...]) -> None:
    """Two registrations during a secret rotation: either secret may have signed."""
    assert not rejected(secrets=secrets)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_dates_within_300_seconds_either_way_are_accepted(offset: int) -> None:
    assert not rejected(now=SENT + timedelta(seconds=offset))


def test_a_date_with_a_numeric_utc_offset_is_compared_correctly() -> None:
    date = "Thu, 30 Mar 2023 10:38:32 +0200"  # = 08:38:32 GMT
    hdrs = headers(auth=authorization(SECRET, URL, date, BODY), date=date)
    assert not rejected(hdrs=hdrs, now=SENT)
    assert rejected(hdrs=hdrs, now=SENT + timedelta(hours=2))


def test_a_minus_zero_zone_date_is_utc_and_rejected_cleanly_when_stale() -> None:
    """RFC 2822 `-0000` parses to a naive datetime; verify must neither crash nor misjudge."""
    date = "Thu, 30 Mar 2023 08:38:32 -0000"
    hdrs = headers(auth=authorization(SECRET, URL, date, BODY), date=date)
    assert not rejected(hdrs=hdrs, now=SENT + timedelta(seconds=10))
    assert rejected(hdrs=hdrs, now=SENT + timedelta(hours=1))


# --- verify rejects -------------------------------------------------------------------------


def test_wrong_secret_is_rejected() -> None:
    assert rejected(secrets=("not-the-secret",))
    assert rejected(secrets=(SECRET_2,))


def test_no_secrets_at_all_is_rejected() -> None:
    assert rejected(secrets=())


def test_base64_decoded_secret_signature_is_rejected() -> None:
    """The negative case: the secret is used as UTF-8 text, never decoded."""
    assert rejected(hdrs=headers(auth=DECODED_KEY_AUTHORIZATION))


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63",  # host
        "https://webhook.site:8443/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63",  # port
        "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a64",  # path
        "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63/",  # trailing slash
        "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63?x=1",  # query
    ],
)
def test_a_different_url_is_rejected(url: str) -> None:
    assert rejected(url=url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com:8443/hooks/vipps?env=prod",  # query value
        "https://example.com:8443/hooks/vipps",  # query dropped
        "https://example.com/hooks/vipps?env=test",  # port dropped
        "https://example.org:8443/hooks/vipps?env=test",  # host
        "https://example.com:8443/hooks/other?env=test",  # path
    ],
)
def test_second_vector_with_a_different_url_is_rejected(url: str) -> None:
    hdrs = headers(auth=AUTHORIZATION_2, date=DATE_2, body_hash=HASH_2, host="example.com:8443")
    assert not rejected(body=BODY_2, hdrs=hdrs, url=URL_2, secrets=(SECRET_2,), now=SENT_2)
    assert rejected(body=BODY_2, hdrs=hdrs, url=url, secrets=(SECRET_2,), now=SENT_2)


@pytest.mark.parametrize("name", ["Authorization", "x-ms-date", "x-ms-content-sha256"])
@pytest.mark.parametrize("how", ["absent", "empty"])
def test_a_missing_header_is_rejected(name: str, how: str) -> None:
    hdrs = headers()
    if how == "absent":
        del hdrs[name]
    else:
        hdrs[name] = ""
    assert rejected(hdrs=hdrs)


def test_an_authorization_that_is_only_basic_auth_is_rejected() -> None:
    assert rejected(hdrs=headers(auth="Basic dXNlcjpwYXNzd29yZA=="))


def test_a_bare_signature_without_the_scheme_prefix_is_rejected() -> None:
    bare = AUTHORIZATION.removeprefix(PREFIX)
    assert rejected(hdrs=headers(auth=bare))


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86_400])
def test_a_date_more_than_300_seconds_away_is_rejected(offset: int) -> None:
    assert rejected(now=SENT + timedelta(seconds=offset))


@pytest.mark.parametrize(
    "date", ["not a date", "2023-03-30T08:38:32Z", "Thu, 99 Foo 2023 08:38:32 GMT", "1680165512"]
)
def test_an_unparseable_date_is_rejected_even_when_signed(date: str) -> None:
    hdrs = headers(auth=authorization(SECRET, URL, date, BODY), date=date)
    assert not rejected(hdrs=hdrs, now=None)  # the signature itself is fine ...
    assert rejected(hdrs=hdrs, now=SENT)  # ... but the date cannot be checked


def test_a_claimed_hash_that_does_not_match_the_body_is_rejected() -> None:
    other = content_hash(b"{}")
    assert rejected(hdrs=headers(body_hash=other))


def test_a_changed_date_header_breaks_the_signature() -> None:
    later = "Thu, 30 Mar 2023 08:38:33 GMT"  # inside the window, but not what was signed
    assert rejected(hdrs=headers(date=later), now=SENT)


@given(data=st.data())
def test_any_single_byte_mutation_of_the_body_is_rejected(data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(BODY) - 1), label="index")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != BODY[index]), label="byte")
    mutated = BODY[:index] + bytes([byte]) + BODY[index + 1 :]
    assert rejected(body=mutated)


@given(data=st.data())
def test_mutated_body_with_a_recomputed_hash_header_is_still_rejected(
    data: st.DataObject,
) -> None:
    """An attacker can fix x-ms-content-sha256 but not the HMAC that covers it."""
    index = data.draw(st.integers(min_value=0, max_value=len(BODY_2) - 1), label="index")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != BODY_2[index]), label="byte")
    mutated = BODY_2[:index] + bytes([byte]) + BODY_2[index + 1 :]
    hdrs = headers(auth=AUTHORIZATION_2, date=DATE_2, body_hash=content_hash(mutated))
    assert rejected(body=mutated, hdrs=hdrs, url=URL_2, secrets=(SECRET_2,), now=SENT_2)


def test_clock_skew_limit_is_300_seconds() -> None:
    assert signature.MAX_CLOCK_SKEW_SECONDS == 300


@pytest.mark.parametrize("name", ["Authorization", "X-Vipps-Authorization", "x-ms-content-sha256"])
@pytest.mark.parametrize("value", ["HMAC-SHA256 Signature=é€", "\udcff\ud800", "ÿ" * 44])
def test_non_ascii_header_values_are_rejected_not_crashing(name: str, value: str) -> None:
    """Servers decode headers as latin-1; compare_digest on non-ASCII str would raise."""
    hdrs = headers()
    hdrs[name] = value
    if name == "X-Vipps-Authorization":
        del hdrs["Authorization"]
    assert rejected(hdrs=hdrs)


header_text = st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=60)


@given(date=header_text, auth=header_text, body_hash=header_text)
def test_any_header_garbage_raises_only_webhook_rejected(
    date: str, auth: str, body_hash: str
) -> None:
    """Whatever a stranger sends, the answer is a rejection, never another exception (a 500)."""
    for hdrs in (
        headers(date=date),
        headers(auth=auth),
        headers(body_hash=body_hash),
        headers(date=date, auth=auth, body_hash=body_hash),
    ):
        assert rejected(hdrs=hdrs)
    signed = headers(auth=authorization(SECRET, URL, date, BODY), date=date)
    with contextlib.suppress(WebhookRejected):
        verify(body=BODY, headers=signed, url=URL, secrets=[SECRET], now=SENT)
