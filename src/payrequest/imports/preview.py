"""A look at a file before it is imported: its first records as they were read, and every
row the reading itself refuses (a date that is not one, an amount with too many decimals, a
missing value), without the database. Whether a customer exists or a number is taken is
known only to a dry run (imports.run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import BinaryIO

from payrequest.imports.reader import FileUnreadable
from payrequest.imports.records import Kind, Record, row_error
from payrequest.imports.report import Report
from payrequest.imports.run import opened

SHOWN = 10


@dataclass
class Preview:
    report: Report  # rows read and refused; nothing created or updated
    first: list[Record] = field(default_factory=list)  # the first records, refused ones too
    records: int = 0  # customers or invoices read (refused or not)


def preview(kind: Kind, source: BinaryIO, *, shown: int = SHOWN) -> Preview:
    report = Report(dry_run=True)
    file = opened(kind, source, report)
    result = Preview(report)
    if file is None:
        return result
    try:
        for record in kind.records(file.rows(), file.columns):
            result.records += 1
            report.rows += len(record.rows)
            if len(result.first) < shown:
                result.first.append(record)
            if record.error is not None:
                report.refuse(len(record.rows), row_error(kind, record, record.error))
    except FileUnreadable as exc:
        report.file_error = exc
    return result
