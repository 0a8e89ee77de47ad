"""The countries payrequest serves and each one's currency: the one table of them.

A Vipps MobilePay market (NO, DK, FI) is one of these countries; its sales units take the
market's currency.
"""

from __future__ import annotations

from typing import Final

COUNTRY_CURRENCY: Final[dict[str, str]] = {"NO": "NOK", "DK": "DKK", "FI": "EUR", "SE": "SEK"}
COUNTRIES: Final = tuple(COUNTRY_CURRENCY)  # NO, DK, FI, SE
CURRENCIES: Final = tuple(COUNTRY_CURRENCY.values())  # NOK, DKK, EUR, SEK
# Where a business of the country keeps its hours (reminders wait for them).
COUNTRY_TIME_ZONE: Final[dict[str, str]] = {
    "NO": "Europe/Oslo",
    "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki",
    "SE": "Europe/Stockholm",
}


def currency_of(country: str) -> str:
    """The currency of a country or market (`NO` -> `NOK`); KeyError for one not served."""
    return COUNTRY_CURRENCY[country]
