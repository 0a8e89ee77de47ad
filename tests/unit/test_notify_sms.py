"""SMS checks before any I/O: numbers, lengths in GSM 03.38 / UCS-2 parts, senders."""

from __future__ import annotations

import httpx
import pytest

from payrequest.notify.sms import MAX_PARTS, GatewayApiSms, SandboxSms, SmsError, sms_length
from payrequest.notify.sms.base import check_message
from payrequest.notify.sms.gatewayapi import error_detail

PHONE = "+4791234567"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("Hei", "GSM", 3, 1),
        ("Blåbærsyltetøy fra Ærø, Østfold og Åland", "GSM", 40, 1),
        ("x" * 160, "GSM", 160, 1),
        ("x" * 161, "GSM", 161, 2),
        ("x" * 306, "GSM", 306, 2),
        ("x" * 307, "GSM", 307, 3),
        ("€" * 80, "GSM", 160, 1),  # extension characters count two
        ("x" * 159 + "€", "GSM", 161, 2),
        ("x" * 152 + "€" + "y" * 152, "GSM", 306, 3),  # an escape pair is never split
        ("x" * 918, "GSM", 918, 6),
        ("Kiitos 🙂", "UCS2", 9, 1),  # the emoji is a surrogate pair
        ("ł" * 70, "UCS2", 70, 1),
        ("ł" * 71, "UCS2", 71, 2),
        ("ł" * 402, "UCS2", 402, 6),
    ],
)
def test_sms_length(text: str, encoding: str, units: int, parts: int) -> None:
    length = sms_length(text)
    assert (length.encoding, length.units, length.parts) == (encoding, units, parts)


def check(**overrides: object) -> tuple[str, str]:
    arguments: dict[str, object] = {
        "to": PHONE,
        "text": "Hei",
        "idempotency_key": "k",
        "sender": None,
        "default_sender": "payrequest",
    }
    arguments.update(overrides)
    phone, sender = check_message(**arguments)  # type: ignore[arg-type]
    return phone.e164, sender


def test_valid_message_passes() -> None:
    assert check() == (PHONE, "payrequest")
    assert check(to="+47 912 34 567", sender="Kafe 2") == (PHONE, "Kafe 2")
    assert check(text="x" * 918) == (PHONE, "payrequest")
    assert check(text="ł" * 402)[0] == PHONE


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"to": "4791234567"}, "is not an E.164 number"),
        ({"to": "91234567"}, "is not an E.164 number"),
        ({"to": "+4712"}, "Cannot send an SMS: “+4712” is not a valid phone number"),
        ({"to": "+12025550123"}, "mobile number is needed"),
        ({"to": "+4722123456"}, "is not a mobile number"),  # Oslo landline
        ({"text": ""}, "Cannot send an empty SMS"),
        ({"text": " \n "}, "Cannot send an empty SMS"),
        ({"text": "x" * 919}, "919 GSM characters make 7 parts; at most 6 parts (918"),
        ({"text": "ł" * 403}, "403 UCS2 characters make 7 parts; at most 6 parts (402"),
        ({"idempotency_key": ""}, "idempotency key must be 1-200"),
        ({"idempotency_key": "k" * 201}, "idempotency key must be 1-200"),
        ({"sender": "Kafé"}, "The SMS sender must be up to 11 letters"),
        ({"sender": "A very long sender"}, "The SMS sender must be"),
        ({"sender": ""}, "The SMS sender must be"),
    ],
)
def test_invalid_message_is_refused_for_good(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SmsError) as info:
        check(**overrides)
    assert message in info.value.message
    assert info.value.retryable is False
    assert info.value.maybe_sent is False


def test_max_parts_is_six() -> None:
    assert MAX_PARTS == 6


@pytest.mark.parametrize("make", ["sandbox", "gatewayapi"])
async def test_gateways_check_before_any_request(make: str) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    transport = httpx.MockTransport(handler)
    gateway: SandboxSms | GatewayApiSms
    if make == "sandbox":
        gateway = SandboxSms(base_url="http://127.0.0.1:1", transport=transport)
    else:
        gateway = GatewayApiSms(api_token="t", sender="payrequest", transport=transport)
    with pytest.raises(SmsError):
        await gateway.send(to="+4712", text="Hi", idempotency_key="k")
    with pytest.raises(SmsError):
        await gateway.send(to=PHONE, text="", idempotency_key="k")
    await gateway.close()
    assert calls == []


def test_gatewayapi_needs_a_token() -> None:
    with pytest.raises(ValueError, match="API token"):
        GatewayApiSms(api_token="", sender="payrequest")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b'{"code": "0x0217", "message": "Unauthorized destination: country %1",'
            b' "variables": ["US"]}',
            "Unauthorized destination: country US (0x0217)",
        ),
        (b'{"message": "Insufficient credit"}', "Insufficient credit"),
        (b"<html>Bad gateway</html>", "<html>Bad gateway</html>"),
        (b"", "Bad Gateway"),
    ],
)
def test_gatewayapi_error_detail(body: bytes, detail: str) -> None:
    response = httpx.Response(502, content=body)
    assert error_detail(response) == detail
