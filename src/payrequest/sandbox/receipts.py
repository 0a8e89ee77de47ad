"""`receipt` and `industryData` on create, checked the way the real API checks them.

The receipt follows the Order Management schema (docs/vipps.md#receipts): at least one order
line with `name`, `id`, `totalAmount`, `totalAmountExcludingTax`, `totalTaxAmount` and a tax
rate (`taxRate` in hundredths of a percent, 0..10000, or the older `taxPercentage`, 0..100);
optional `unitInfo` (`unitPrice` and `quantity` required in it, `quantityUnit` from a list),
`discount` (not negative), `productUrl`, `isReturn`, `isShipping`; a `bottomLine` with its
`currency` and optional `tipAmount`, `posId`, `receiptNumber`, `paymentSources`, `barcode`
(`format` EAN-13, CODE 39 or CODE 128, and `data`) and the deprecated totals. Unknown fields
are refused.

A line's amounts must agree, all in minor units:

- `totalAmount` = `totalAmountExcludingTax` + `totalTaxAmount`, exactly;
- `unitPrice` × `quantity` − `discount` = `totalAmount`, within (`quantity` + 1) / 2 minor
  units. `unitPrice` is the price of one unit including tax, before the discount. It is rounded
  to whole minor units, which may move the product by half a minor unit per unit, and the total
  is rounded once more (half a unit): 1 minor unit for a quantity of 1, 1.25 for 1.5.

Every broken field of the receipt is reported in one 400 `Bad Request` with an `extraDetails`
entry each, named by its path (`receipt.orderLines[0].unitInfo.quantity`), no ErrorCode.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from payrequest.sandbox.problems import ApiError

QUANTITY_PATTERN = r"^\d+([\.]\d{1,8})?$"
QUANTITY_RE = re.compile(QUANTITY_PATTERN)
QUANTITY_MAX_LENGTH = 10
QUANTITY_UNITS = ("PCS", "KG", "KM", "MINUTE", "LITRE", "KWH")
BARCODE_FORMATS = ("EAN-13", "CODE 39", "CODE 128")
CURRENCY_ENUM = ("NOK", "DKK", "EUR")  # the receipt's own currency list
PAYMENT_SOURCES = frozenset({"giftCard", "card", "voucher", "cash"})
MAX_TAX_RATE = 10_000  # hundredths of a percent
MAX_TAX_PERCENTAGE = 100
LINE_TOTALS = ("totalAmount", "totalAmountExcludingTax", "totalTaxAmount")
LINE_FIELDS = frozenset(
    {
        *LINE_TOTALS,
        "name",
        "id",
        "taxPercentage",
        "taxRate",
        "unitInfo",
        "discount",
        "productUrl",
        "isReturn",
        "isShipping",
    }
)
UNIT_FIELDS = frozenset({"unitPrice", "quantity", "quantityUnit"})
# Amounts of the bottom line that may not be negative (most of them deprecated).
BOTTOM_AMOUNTS = ("tipAmount", "giftCardAmount", "totalTax", "totalDiscount", "shippingAmount")
BOTTOM_TEXTS = ("posId", "receiptNumber", "terminalId")
BOTTOM_FIELDS = frozenset(
    {*BOTTOM_AMOUNTS, *BOTTOM_TEXTS, "currency", "totalAmount", "shippingInfo"}
    | {"paymentSources", "barcode"}
)
# industryData.airlineData: field -> (least, most characters, required).
AIRLINE_FIELDS = {
    "agencyInvoiceNumber": (1, 6, True),
    "airlineCode": (3, 3, True),
    "airlineDesignatorCode": (2, 2, True),
    "passengerName": (1, 49, True),
    "ticketNumber": (1, 150, False),
}

Errors = list[tuple[str, str]]


def check_receipt(receipt: Any) -> dict[str, Any] | None:
    """The receipt, if it keeps every rule above; else a 400 naming each broken field."""
    if receipt is None:
        return None
    if not isinstance(receipt, dict):
        raise ApiError(None, fields=[("receipt", "receipt must be an object.")])
    errors: Errors = []
    _unknown(receipt, frozenset({"orderLines", "bottomLine"}), "receipt", errors)
    lines = receipt.get("orderLines")
    if not isinstance(lines, list) or not lines:
        errors.append(("receipt.orderLines", "orderLines must hold at least one line."))
    else:
        for index, line in enumerate(lines):
            _order_line(line, f"receipt.orderLines[{index}]", errors)
    _bottom_line(receipt.get("bottomLine"), "receipt.bottomLine", errors)
    if errors:
        raise ApiError(None, fields=errors)
    return dict(receipt)


def check_industry_data(data: Any) -> None:
    """`industryData`: today only `airlineData`, whose four ids are required together."""
    if data is None:
        return
    if not isinstance(data, dict):
        raise ApiError(None, fields=[("industryData", "industryData must be an object.")])
    errors: Errors = []
    _unknown(data, frozenset({"airlineData"}), "industryData", errors)
    airline, where = data.get("airlineData"), "industryData.airlineData"
    if airline is not None and not isinstance(airline, dict):
        errors.append((where, "airlineData must be an object."))
    elif airline is not None:
        _unknown(airline, frozenset(AIRLINE_FIELDS), where, errors)
        for name, (least, most, required) in AIRLINE_FIELDS.items():
            _text(airline, name, where, errors, least=least, most=most, required=required)
    if errors:
        raise ApiError(None, fields=errors)


# --- order lines -------------------------------------------------------------------------


def _order_line(line: Any, where: str, errors: Errors) -> None:
    if not isinstance(line, dict):
        errors.append((where, "An order line must be an object."))
        return
    _unknown(line, LINE_FIELDS, where, errors)
    for name in ("name", "id"):
        _text(line, name, where, errors, required=True)
    totals = [_integer(line, name, where, errors, required=True) for name in LINE_TOTALS]
    _tax(line, where, errors)
    discount = _integer(line, "discount", where, errors, least=0)
    _text(line, "productUrl", where, errors, least=0)
    for flag in ("isReturn", "isShipping"):
        if line.get(flag) is not None and not isinstance(line[flag], bool):
            errors.append((f"{where}.{flag}", f"The field {_pascal(flag)} must be a boolean."))
    unit = _unit_info(line.get("unitInfo"), f"{where}.unitInfo", errors)
    total, excluding, tax = totals
    if total is not None and excluding is not None and tax is not None and total != excluding + tax:
        errors.append(
            (
                f"{where}.totalAmount",
                f"totalAmount {total} must equal totalAmountExcludingTax + totalTaxAmount "
                f"({excluding} + {tax} = {excluding + tax}).",
            )
        )
    if unit is not None and total is not None:
        _unit_price_agrees(*unit, discount or 0, total, where, errors)


def _tax(line: dict[str, Any], where: str, errors: Errors) -> None:
    rate = _integer(line, "taxRate", where, errors, least=0, most=MAX_TAX_RATE)
    percent = _integer(line, "taxPercentage", where, errors, least=0, most=MAX_TAX_PERCENTAGE)
    if line.get("taxRate") is None and line.get("taxPercentage") is None:
        errors.append(
            (
                f"{where}.taxRate",
                "The TaxRate field (hundredths of a percent) or the older TaxPercentage field "
                "(whole percent) is required.",
            )
        )
    elif rate is not None and percent is not None and rate != percent * 100:
        errors.append(
            (f"{where}.taxPercentage", f"taxPercentage {percent} and taxRate {rate} disagree.")
        )


def _unit_info(unit: Any, where: str, errors: Errors) -> tuple[int, Decimal] | None:
    """(unitPrice, quantity) when both are good; None without unitInfo or when broken."""
    if unit is None:
        return None
    if not isinstance(unit, dict):
        errors.append((where, "unitInfo must be an object."))
        return None
    _unknown(unit, UNIT_FIELDS, where, errors)
    price = _integer(unit, "unitPrice", where, errors, required=True, least=0)
    quantity = _quantity(unit.get("quantity"), f"{where}.quantity", errors)
    kind = unit.get("quantityUnit")
    if kind is not None and kind not in QUANTITY_UNITS:
        errors.append(
            (
                f"{where}.quantityUnit",
                f"The field QuantityUnit must be one of {', '.join(QUANTITY_UNITS)}.",
            )
        )
    return (price, quantity) if price is not None and quantity is not None else None


def _quantity(value: Any, where: str, errors: Errors) -> Decimal | None:
    if value is None:
        errors.append((where, "The Quantity field is required."))
    elif not isinstance(value, str):
        errors.append((where, 'The field Quantity must be a string, e.g. "1.5".'))
    elif len(value) > QUANTITY_MAX_LENGTH:
        errors.append(
            (
                where,
                f"The field Quantity must be a string with a maximum length of "
                f"{QUANTITY_MAX_LENGTH}.",
            )
        )
    elif not QUANTITY_RE.match(value):
        errors.append(
            (where, f"The field Quantity must match the regular expression '{QUANTITY_PATTERN}'.")
        )
    else:
        return Decimal(value)
    return None


def _unit_price_agrees(
    price: int, quantity: Decimal, discount: int, total: int, where: str, errors: Errors
) -> None:
    expected = price * quantity - discount
    allowed = (quantity + 1) / 2
    if abs(expected - total) > allowed:
        errors.append(
            (
                f"{where}.unitInfo.unitPrice",
                f"unitPrice * quantity - discount ({price} * {quantity} - {discount} = "
                f"{_plain(expected)}) must match totalAmount {total} within {_plain(allowed)} "
                "minor units: unitPrice is the price of one unit including tax.",
            )
        )


# --- the bottom line ---------------------------------------------------------------------


def _bottom_line(bottom: Any, where: str, errors: Errors) -> None:
    if not isinstance(bottom, dict):
        errors.append((where, "The BottomLine field is required."))
        return
    _unknown(bottom, BOTTOM_FIELDS, where, errors)
    if bottom.get("currency") not in CURRENCY_ENUM:
        errors.append(
            (f"{where}.currency", f"The Currency field is required: {', '.join(CURRENCY_ENUM)}.")
        )
    for name in BOTTOM_AMOUNTS:
        _integer(bottom, name, where, errors, least=0)
    _integer(bottom, "totalAmount", where, errors)
    for name in BOTTOM_TEXTS:
        _text(bottom, name, where, errors, least=0)
    if bottom.get("shippingInfo") is not None and not isinstance(bottom["shippingInfo"], dict):
        errors.append((f"{where}.shippingInfo", "shippingInfo must be an object."))
    _payment_sources(bottom.get("paymentSources"), f"{where}.paymentSources", errors)
    _barcode(bottom.get("barcode"), f"{where}.barcode", errors)


def _payment_sources(sources: Any, where: str, errors: Errors) -> None:
    if sources is None:
        return
    if not isinstance(sources, dict):
        errors.append((where, "paymentSources must be an object."))
        return
    _unknown(sources, PAYMENT_SOURCES, where, errors)
    for name in sorted(PAYMENT_SOURCES):
        _integer(sources, name, where, errors)


def _barcode(barcode: Any, where: str, errors: Errors) -> None:
    if barcode is None:
        return
    if not isinstance(barcode, dict):
        errors.append((where, "barcode must be an object with format and data."))
        return
    _unknown(barcode, frozenset({"format", "data"}), where, errors)
    if barcode.get("format") not in BARCODE_FORMATS:
        errors.append(
            (f"{where}.format", f"The field Format must be one of {', '.join(BARCODE_FORMATS)}.")
        )
    _text(barcode, "data", where, errors, required=True)


# --- single fields -----------------------------------------------------------------------


def _integer(
    obj: dict[str, Any],
    name: str,
    where: str,
    errors: Errors,
    *,
    required: bool = False,
    least: int | None = None,
    most: int | None = None,
) -> int | None:
    """The field's integer value; None when absent (null) or broken (then reported)."""
    value = obj.get(name)
    if value is None:
        if required:
            errors.append((f"{where}.{name}", f"The {_pascal(name)} field is required."))
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append((f"{where}.{name}", f"The field {_pascal(name)} must be an integer."))
        return None
    if (least is not None and value < least) or (most is not None and value > most):
        bounds = f"between {least} and {most}" if most is not None else f"at least {least}"
        errors.append((f"{where}.{name}", f"The field {_pascal(name)} must be {bounds}."))
        return None
    return value


def _text(
    obj: dict[str, Any],
    name: str,
    where: str,
    errors: Errors,
    *,
    required: bool = False,
    least: int = 1,
    most: int | None = None,
) -> None:
    value = obj.get(name)
    if value is None:
        if required:
            errors.append((f"{where}.{name}", f"The {_pascal(name)} field is required."))
        return
    longest = most if most is not None else 10_000
    if not isinstance(value, str) or not least <= len(value) <= longest:
        limits = f"a minimum length of {least}" + (
            f" and a maximum length of {most}" if most is not None else ""
        )
        errors.append(
            (f"{where}.{name}", f"The field {_pascal(name)} must be a string with {limits}.")
        )


def _unknown(obj: dict[str, Any], known: frozenset[str], where: str, errors: Errors) -> None:
    for name in sorted(set(obj) - known):
        errors.append((f"{where}.{name}", f"Unknown field '{name}'."))


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")
