"""Reading an imported CSV file row by row, never the whole file at once (docs/csv.md).

- UTF-8, with or without a byte order mark (Excel's "CSV UTF-8" writes one).
- The separator is `;` or `,`, whichever the header line has more of (Excel writes `;` where
  the decimal mark is a comma, as in Norway and Denmark).
- The header names the columns; case, surrounding spaces and inner spaces or hyphens do not
  matter (`Customer external ID` is `customer_external_id`).
- Quoting as RFC 4180: a field in double quotes may hold the separator, a line break or a
  doubled quote.
- Blank lines are skipped. Row numbers are a spreadsheet's: the header is row 1.

A file that cannot be read at all (not UTF-8, no header, a broken quote) raises
`FileUnreadable`, naming the row where reading stopped.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from payrequest.errors import ValidationFailed

SEPARATORS = (";", ",")
BOM = "\ufeff"
# A line longer than this is not a row of customers or invoices (a file without line breaks,
# probably): reading stops there rather than holding it.
LINE_LIMIT = 64 * 1024


class FileUnreadable(ValidationFailed):
    """The file as a whole cannot be read (nothing of it was imported)."""

    code = "file_unreadable"


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One row of the file: its number (the header is row 1) and its cells by column."""

    number: int
    cells: dict[str, str]
    extra: int = 0  # cells beyond the header's columns (an unquoted separator, probably)

    def get(self, column: str) -> str:
        return self.cells.get(column, "").strip()


def column_name(title: str) -> str:
    """A header cell as a column name: `Customer external ID` -> `customer_external_id`."""
    return re.sub(r"[\s\-]+", "_", title.strip().lower())


def separator_of(header: str) -> str:
    """`;` or `,`: whichever the header line has more of (`;` on a tie, or when neither)."""
    return max(SEPARATORS, key=header.count)


class CsvFile:
    """A CSV file opened for reading row by row (see the module). `columns` and `separator`
    are known once it is opened; `rows()` reads the rest, once.

    Lines are read from the binary file one at a time and decoded each on its own, so a byte
    that is not UTF-8 is reported on its own row."""

    def __init__(self, binary: BinaryIO) -> None:
        self._binary = binary
        self._read = 0  # rows read so far (the header is row 1)
        header = self._line().removeprefix(BOM)
        if not header.strip():
            raise FileUnreadable("The file is empty: its first line must name the columns")
        self.separator = separator_of(header)
        self._reader = csv.reader(
            itertools.chain([header], iter(self._line, "")), delimiter=self.separator, strict=True
        )
        self.columns = tuple(column_name(title) for title in self._next() or ())
        doubled = sorted({c for c in self.columns if c and self.columns.count(c) > 1})
        if doubled:
            raise FileUnreadable(
                "The column %(columns)s is named twice in the first line", columns=doubled
            )

    def bytes_read(self) -> int:
        """How far into the file reading has got (for a progress bar)."""
        try:
            return int(self._binary.tell())
        except (OSError, ValueError):
            return 0

    def rows(self) -> Iterator[SourceRow]:
        while (cells := self._next()) is not None:
            if not any(cell.strip() for cell in cells):
                continue
            named = dict(zip(self.columns, cells, strict=False))
            yield SourceRow(self._read, named, extra=max(len(cells) - len(self.columns), 0))

    def _line(self) -> str:
        """The next line of the file with its line break ("" at the end)."""
        raw = self._binary.readline(LINE_LIMIT + 1)
        if len(raw) > LINE_LIMIT:
            raise FileUnreadable(
                "Row %(row)s is longer than %(limit)s characters",
                row=self._read + 1,
                limit=LINE_LIMIT,
            )
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FileUnreadable(
                "Row %(row)s is not UTF-8 text: save the file as “CSV UTF-8”", row=self._read + 1
            ) from None

    def _next(self) -> list[str] | None:
        try:
            cells = next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise FileUnreadable(
                "Row %(row)s cannot be read as CSV (%(reason)s)",
                row=self._read + 1,
                reason=str(exc),
            ) from None
        self._read += 1
        return cells
