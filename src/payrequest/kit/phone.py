"""Phone numbers: what a person types -> E.164 (stored) and MSISDN (sent to Vipps MobilePay)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from payrequest.errors import ValidationFailed

# Markets where MobilePay / Vipps users live, by calling code region.
MARKETS = ("NO", "DK", "FI", "SE")

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


@dataclass(frozen=True, slots=True)
class Phone:
    e164: str  # +4791234567
    region: str  # NO

    @property
    def msisdn(self) -> str:
        """Vipps MobilePay form: country code and number, digits only (`4791234567`)."""
        return self.e164.lstrip("+")

    def pretty(self) -> str:
        parsed = phonenumbers.parse(self.e164)
        return str(phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL))


def parse_phone(text: str, default_region: str = "NO") -> Phone:
    """Normalise user input such as `912 34 567`, `+45 20 12 34 56`, `0047 912 34 567`.

    Raises ValidationFailed with a message a person understands.
    """
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationFailed("Enter a mobile number", field="phone")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    elif cleaned.isdigit() and len(cleaned) >= 10 and _known_prefix(cleaned):
        # Already an MSISDN such as 4791234567.
        cleaned = "+" + cleaned
    try:
        parsed = phonenumbers.parse(cleaned, default_region.upper())
    except NumberParseException as exc:
        raise ValidationFailed(
            "“%(text)s” does not look like a phone number", field="phone", text=text
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationFailed(
            "“%(text)s” is not a valid phone number (check the number of digits "
            "and the country code)",
            field="phone",
            text=text,
        )
    region = phonenumbers.region_code_for_number(parsed) or default_region
    if region not in MARKETS:
        raise ValidationFailed(
            "“%(text)s” is a %(region)s number; a Norwegian, Danish, Finnish or Swedish "
            "mobile number is needed",
            field="phone",
            text=text,
            region=region,
        )
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise ValidationFailed(
            "“%(text)s” is not a mobile number; the customer's mobile number is needed",
            field="phone",
            text=text,
        )
    e164 = phonenumbers.format_number(parsed, PhoneNumberFormat.E164)
    return Phone(e164=str(e164), region=region)


def _known_prefix(digits: str) -> bool:
    return digits.startswith(("47", "45", "358", "46"))
