from __future__ import annotations

import pytest

from payrequest.errors import ValidationFailed
from payrequest.kit.phone import parse_phone


@pytest.mark.parametrize(
    ("typed", "region", "e164", "msisdn"),
    [
        ("912 34 567", "NO", "+4791234567", "4791234567"),
        ("+47 912 34 567", "DK", "+4791234567", "4791234567"),
        ("0047 91234567", "NO", "+4791234567", "4791234567"),
        ("4791234567", "DK", "+4791234567", "4791234567"),
        ("20 12 34 56", "DK", "+4520123456", "4520123456"),
        ("+45 20-12-34-56", "NO", "+4520123456", "4520123456"),
        ("040 123 4567", "FI", "+358401234567", "358401234567"),
        ("070-123 45 67", "SE", "+46701234567", "46701234567"),
    ],
)
def test_normalises_nordic_mobiles(typed: str, region: str, e164: str, msisdn: str) -> None:
    phone = parse_phone(typed, default_region=region)
    assert phone.e164 == e164
    assert phone.msisdn == msisdn
    assert phone.msisdn.isdigit() and 10 <= len(phone.msisdn) <= 15


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a mobile number"),
        ("hello", "does not look like a phone number"),
        ("912 34", "not a valid phone number"),
        ("22 12 34 56", "not a mobile number"),
        ("+1 415 555 2671", "Norwegian, Danish, Finnish or Swedish"),
    ],
)
def test_rejects_with_a_message_a_person_understands(typed: str, message: str) -> None:
    with pytest.raises(ValidationFailed, match=message) as info:
        parse_phone(typed)
    assert info.value.field == "phone"
