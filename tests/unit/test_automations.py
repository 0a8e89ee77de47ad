"""Automations without a database or network: template checks, conditions, Standard Webhooks
signatures, and the SSRF guard on webhook destinations."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from payrequest.automations import actions, templating
from payrequest.automations.conditions import Facts, clean, matches
from payrequest.automations.context import sample_context
from payrequest.errors import ValidationFailed
from payrequest.notify.webhook import signing
from payrequest.notify.webhook.destinations import DestinationRefused, check_url

# --- templates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Hello {{ customer_name }", "Template error"),  # does not compile
        ("Hello {{ customer_nmae }}", "customer_nmae"),  # unknown variable
        ("{{ amount.__class__.__mro__ }}", "Template error"),  # sandbox
        ("{% for x in invoices %}{{ x.numbr }}{% endfor %}", "numbr"),
    ],
)
async def test_bad_templates_are_refused_when_the_flow_is_saved(source: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await actions.clean("sms", {"to": "customer", "text": source}, index=2, allow=())
    assert caught.value.field == "a2_text"
    assert message in caught.value.message


async def test_a_good_template_is_kept_and_renders() -> None:
    config = await actions.clean(
        "sms",
        {"to": "customer", "text": "Takk {{ customer_name }}: {{ amount }}"},
        index=0,
        allow=(),
    )
    rendered = actions.render("sms", config, sample_context())
    assert rendered == {"to": "+4791234567", "text": "Takk Kari Nordmann: 1 234,50 kr"}


def test_portal_link_is_only_known_in_portal_link_actions() -> None:
    with pytest.raises(ValidationFailed):
        templating.check("{{ portal_link }}", sample_context(), field="text")
    templating.check("{{ portal_link }}", sample_context(portal_link=True), field="text")


def test_html_is_autoescaped_text_is_not() -> None:
    context = {**sample_context(), "customer_name": "<b>Ola & Kari</b>"}
    assert templating.render("{{ customer_name }}", context, html=True) == (
        "&lt;b&gt;Ola &amp; Kari&lt;/b&gt;"
    )
    assert templating.render("{{ customer_name }}", context) == "<b>Ola & Kari</b>"


async def test_email_needs_an_address_and_wait_whole_minutes() -> None:
    with pytest.raises(ValidationFailed) as caught:
        await actions.clean("email", {"to": "", "subject": "x", "text": "y"}, index=0, allow=())
    assert caught.value.field == "a0_to"
    with pytest.raises(ValidationFailed):
        await actions.clean("wait", {"minutes": "ten"}, index=1, allow=())
    assert await actions.clean("wait", {"minutes": "15"}, index=1, allow=()) == {"minutes": 15}


# --- conditions --------------------------------------------------------------------------


def test_conditions_match_amount_range_currency_origin_and_customer() -> None:
    conditions = clean(
        {
            "amount_min": 10_000,
            "amount_max": 50_000,
            "currency": "NOK",
            "origin": "portal",
            "country": "NO",
            "language": "",
        }
    )
    assert "language" not in conditions
    facts = Facts(amount=20_000, currency="NOK", origin="portal", country="NO", language="nb")
    assert matches(conditions, facts)
    for changed in (
        {"amount": 9_999},
        {"amount": 50_001},
        {"amount": None},
        {"currency": "DKK"},
        {"origin": "staff"},
        {"country": "DK"},
    ):
        values = {
            "amount": 20_000,
            "currency": "NOK",
            "origin": "portal",
            "country": "NO",
            "language": "nb",
            **changed,
        }
        assert not matches(conditions, Facts(**values)), changed  # type: ignore[arg-type]
    assert matches({}, Facts())  # no conditions: everything matches
    assert matches({"amount_min": 10_000}, Facts(amount=10_000))  # inclusive


def test_a_reminders_condition_counts_the_steps_before() -> None:
    conditions = clean({"reminders_max": "1"})
    assert conditions == {"reminders_max": 1}
    assert matches(conditions, Facts(reminders_sent=0))
    assert matches(conditions, Facts(reminders_sent=1))
    assert not matches(conditions, Facts(reminders_sent=2))
    assert not matches(conditions, Facts())  # not a reminder: no count to test
    assert clean({"reminders_max": ""}) == {}
    for wrong in ("-1", "101", "2.5", "many", True):
        with pytest.raises(ValidationFailed) as caught:
            clean({"reminders_max": wrong})
        assert caught.value.field == "reminders_max"


def test_a_tag_condition_asks_for_one_tag_of_the_customer() -> None:
    conditions = clean({"tag": " VIP "})
    assert conditions == {"tag": "vip"}  # cleaned as the customer's tags are
    assert matches(conditions, Facts(tags=frozenset({"b2b", "vip"})))
    assert not matches(conditions, Facts(tags=frozenset({"b2b"})))
    assert not matches(conditions, Facts())  # no customer, no tags
    assert clean({"tag": ""}) == {} and clean({"tag": "  "}) == {}
    for wrong in ("vip!", "x" * 33):
        with pytest.raises(ValidationFailed) as caught:
            clean({"tag": wrong})
        assert caught.value.field == "tag"


def test_invalid_conditions_name_their_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        clean({"amount_min": 500, "amount_max": 100})
    assert caught.value.field == "amount_max"
    with pytest.raises(ValidationFailed) as caught:
        clean({"currency": "USD"})
    assert caught.value.field == "currency"


# --- Standard Webhooks --------------------------------------------------------------------


def test_signature_matches_an_independently_computed_vector() -> None:
    key = bytes(range(24))
    secret = "whsec_" + base64.b64encode(key).decode()
    msg_id, timestamp, body = (
        "flowrun-7-action-0",
        1_700_000_000,
        b'{"type":"payment_request.paid"}',
    )
    # Computed by hand from the spec: base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
    mac = hmac.new(
        key, b'flowrun-7-action-0.1700000000.{"type":"payment_request.paid"}', hashlib.sha256
    ).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    assert signing.sign(secret, msg_id=msg_id, timestamp=timestamp, body=body) == expected
    headers = signing.headers(secret, msg_id=msg_id, timestamp=timestamp, body=body)
    assert headers["webhook-id"] == msg_id
    assert headers["webhook-timestamp"] == "1700000000"
    assert signing.verify(
        secret, msg_id=msg_id, timestamp="1700000000", body=body, signature=f"v1,bogus {expected}"
    )
    assert not signing.verify(
        secret, msg_id=msg_id, timestamp="1700000000", body=body + b" ", signature=expected
    )


def test_the_standard_webhooks_reference_vector() -> None:
    # From the Standard Webhooks reference libraries' test suite.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = signing.sign(
        secret, msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330, body=body
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# --- webhook destinations -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://[", "https://[::1/hook", "https://" + "a" * 70 + ".example/", "http://:80/"]
)
async def test_a_malformed_url_is_refused_not_a_crash(url: str) -> None:
    with pytest.raises(DestinationRefused):
        await check_url(url)


async def loopback_resolver(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


async def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[fe80::1]/hook",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "https://192.168.1.10/",
    ],
)
async def test_private_loopback_link_local_and_metadata_addresses_are_refused(url: str) -> None:
    with pytest.raises(DestinationRefused):
        await check_url(url, resolver=public_resolver)


async def test_a_name_resolving_to_loopback_is_refused() -> None:
    with pytest.raises(DestinationRefused) as caught:
        await check_url("https://erp.example.com/hook", resolver=loopback_resolver)
    assert "127.0.0.1" in caught.value.message


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "gopher://x/", "https://user:pw@example.com/"],
)
async def test_only_plain_http_and_https_urls(url: str) -> None:
    with pytest.raises(DestinationRefused):
        await check_url(url, resolver=public_resolver)


async def test_public_addresses_pass_and_the_allowlist_opens_named_hosts() -> None:
    assert await check_url("https://erp.example.com/hook", resolver=public_resolver) == [
        "93.184.215.14"
    ]
    assert await check_url("http://127.0.0.1:9000/hook", allow=["127.0.0.1"]) == ["127.0.0.1"]
    assert await check_url("http://10.1.2.3/", allow=["10.1.0.0/16"]) == ["10.1.2.3"]
    await check_url("http://erp.internal/", allow=["erp.internal"], resolver=loopback_resolver)
    with pytest.raises(DestinationRefused):  # the allowlist names exactly what it allows
        await check_url("http://10.2.0.1/", allow=["10.1.0.0/16"])
    with pytest.raises(DestinationRefused):
        await check_url("http://localhost/", allow=["127.0.0.2"], resolver=loopback_resolver)


async def test_webhook_urls_are_checked_when_the_flow_is_saved() -> None:
    with pytest.raises(ValidationFailed) as caught:
        await actions.clean("webhook", {"url": "http://169.254.169.254/"}, index=3, allow=())
    assert caught.value.field == "a3_url"
