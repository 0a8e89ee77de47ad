"""Reading an imported CSV file (imports.reader) and its cells (imports.values), without a
database: separators, byte order mark, quoting, row numbers, numbers written the Nordic or the
English way, both date forms."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payrequest.errors import ValidationFailed
from payrequest.imports import values
from payrequest.imports.reader import CsvFile, FileUnreadable, column_name


def _file(text: str | bytes) -> CsvFile:
    return CsvFile(io.BytesIO(text.encode("utf-8") if isinstance(text, str) else text))


def test_either_separator_bom_quotes_and_row_numbers() -> None:
    semicolons = _file(
        "\ufeffExternal ID;Customer-external id; Name \r\n"
        'F-1;C-1;"Bager; Hansen"\r\n'
        "\r\n"
        'F-2;C-2;"two\nlines, and ""quotes"""\r\n'
        "F-3;C-3;x;surplus\r\n"
    )
    assert semicolons.separator == ";"
    assert semicolons.columns == ("external_id", "customer_external_id", "name")
    rows = list(semicolons.rows())
    assert [(r.number, r.get("name"), r.extra) for r in rows] == [
        (2, "Bager; Hansen", 0),
        (4, 'two\nlines, and "quotes"', 0),
        (5, "x", 1),
    ]
    commas = _file("a,b,c;d\n1,2,3;4\n")
    assert commas.separator == ","
    assert next(commas.rows()).cells == {"a": "1", "b": "2", "c;d": "3;4"}


def test_a_file_that_cannot_be_read_names_the_row() -> None:
    with pytest.raises(FileUnreadable) as empty:
        _file("")
    assert empty.value.message == "The file is empty: its first line must name the columns"
    with pytest.raises(FileUnreadable) as twice:
        _file("name;Name\n")
    assert twice.value.message == "The column name is named twice in the first line"
    latin1 = _file("a;b\n1;2\n3;Bj\xf8rn\n".encode("latin-1"))
    with pytest.raises(FileUnreadable) as not_utf8:
        list(latin1.rows())
    assert not_utf8.value.params["row"] == 3
    unclosed = _file('a;b\n1;"open\n')
    with pytest.raises(FileUnreadable) as broken:
        list(unclosed.rows())
    assert broken.value.params["row"] == 2


def test_the_file_is_read_a_line_at_a_time() -> None:
    body = "a;b\n" + "".join(f"{n};{n}\n" for n in range(2000))
    source = io.BytesIO(body.encode())
    opened = CsvFile(source)
    rows = opened.rows()
    for _ in range(10):
        next(rows)
    assert opened.bytes_read() < 200  # ten short lines, not the 20 kB file
    assert sum(1 for _ in rows) == 1990
    assert opened.bytes_read() == len(body)


def test_column_names() -> None:
    assert column_name("  Unit price ") == "unit_price"
    assert column_name("VAT-rate") == "vat_rate"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234,50", "1234.50"),
        ("1234.50", "1234.50"),
        ("1 234,50", "1234.50"),
        ("1\u00a0234,5", "1234.5"),
        ("1.234,50", "1234.50"),
        ("1,234.50", "1234.50"),
        ("1.234", "1.234"),  # a lone point is the decimal mark
        ("-12,5", "-12.5"),
        ("\u221212,5", "-12.5"),
        ("0", "0"),
    ],
)
def test_numbers_with_a_decimal_comma_or_point(text: str, expected: str) -> None:
    assert values.decimal(text, "unit_price") == Decimal(expected)


@pytest.mark.parametrize("text", ["", "1,2,3", "1.234.567", "12 kr", "abc", "1e5", "--1"])
def test_what_is_not_a_number(text: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        values.decimal(text, "quantity")
    assert refused.value.field == "quantity"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=10**12))
def test_amounts_written_the_nordic_or_english_way_are_exact(minor: int) -> None:
    whole, cents = divmod(minor, 100)
    nordic = f"{whole:,}".replace(",", " ") + f",{cents:02d}"
    english = f"{whole:,}.{cents:02d}"
    assert values.amount(nordic, "unit_price", "NOK") == minor
    assert values.amount(english, "unit_price", "DKK") == minor


def test_amounts_vat_rates_and_dates() -> None:
    with pytest.raises(ValidationFailed) as tenth:
        values.amount("12,345", "unit_price", "NOK")
    assert tenth.value.field == "unit_price" and tenth.value.params["currency"] == "NOK"
    assert values.percent_basis_points("12,5", "vat_rate") == 1250
    assert values.percent_basis_points("25 %", "vat_rate") == 2500
    with pytest.raises(ValidationFailed):
        values.percent_basis_points("12,505", "vat_rate")
    assert values.day("2027-01-31", "due_date") == date(2027, 1, 31)
    assert values.day("31.01.2027", "due_date") == date(2027, 1, 31)
    assert values.day("1.2.2027", "due_date") == date(2027, 2, 1)
    for wrong in ("31.02.2027", "2027-13-01", "31/01/2027", "20270131"):
        with pytest.raises(ValidationFailed):
            values.day(wrong, "due_date")
