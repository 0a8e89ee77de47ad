"""The payments export as CSV, written as it is read (docs/csv.md, "Payments export").

Comma-separated, UTF-8 without a byte order mark, one header line, RFC 4180 quoting. Amounts
in major units with a dot and as many decimals as the currency has (`-1234.50`), next to the
currency: what an accounting system imports without guessing a locale. A text cell that a
spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage
return) is written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import scoped_to
from payrequest.exports.payments import PaymentLine, payment_lines
from payrequest.exports.period import Period
from payrequest.kit.money import minor_digits, to_major

COLUMNS = (
    "date",
    "time",
    "type",
    "payment",
    "customer_number",
    "customer_name",
    "invoice_number",
    "amount",
    "currency",
    "provider",
    "provider_reference",
    "method",
    "reference",
)
LINES_PER_CHUNK = 200
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def amount_text(minor: int, currency: str) -> str:
    """Minor units as major units with a dot: 123450 NOK -> `1234.50`, -5 -> `-0.05`."""
    return f"{to_major(minor, minor_digits(currency)):f}"


def _text(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def cells(line: PaymentLine) -> list[str]:
    return [
        line.day.isoformat(),
        line.moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        line.kind,
        _text(line.payment),
        _text(line.customer_number),
        _text(line.customer_name),
        _text(line.invoice_number),
        amount_text(line.amount, line.currency),
        line.currency,
        _text(line.provider),
        _text(line.provider_reference),
        _text(line.method),
        _text(line.reference),
    ]


class _Chunks:
    """A csv writer into a buffer that is emptied chunk by chunk."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def write(self, row: Iterable[str]) -> None:
        self.writer.writerow(row)

    def take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")


async def csv_chunks(lines: AsyncIterator[PaymentLine]) -> AsyncIterator[bytes]:
    """The header, then the lines, as UTF-8 bytes a few hundred lines at a time."""
    out = _Chunks()
    out.write(COLUMNS)
    written = 0
    async for line in lines:
        out.write(cells(line))
        written += 1
        if written % LINES_PER_CHUNK == 0:
            yield out.take()
    yield out.take()


async def payments_csv(
    sessions: async_sessionmaker[AsyncSession], *, organisation_id: int, period: Period
) -> AsyncIterator[bytes]:
    """The organisation's payments export of `period`, read in a session of its own (a web
    response streams it after the request's own session is gone)."""
    async with sessions(info=scoped_to(organisation_id)) as session:
        async for chunk in csv_chunks(payment_lines(session, period)):
            yield chunk
