"""Running an import: the file read row by row, its records written in batches of
`BATCH_ROWS` rows, one transaction each, through the same upsert commands as the API
(docs/csv.md).

- Each record is written in a savepoint of its own: one refused (a customer that does not
  exist, an invoice number another invoice has) leaves the batch's others in.
- A dry run does all of it and rolls every batch back: it reports what would be created,
  updated or left unchanged, and writes nothing.
- The same file again finds everything as the first run left it: nothing is created or
  changed (the upserts are idempotent by `external_id`).
- Reading stops at a row that cannot be read at all (not UTF-8, a broken quote): the batches
  before it are written, the report says where it stopped.

Memory does not grow with the file: one batch of records is held at a time (and a hash of
each external id, see imports.seen).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payrequest.db.scope import scoped_to
from payrequest.errors import Conflict, PayrequestError
from payrequest.imports.reader import CsvFile, FileUnreadable
from payrequest.imports.records import Kind, Record, missing_columns, row_error
from payrequest.imports.report import CREATED, UNCHANGED, UPDATED, Report
from payrequest.kit.upserted import Upserted
from payrequest.kit.validation import from_pydantic

BATCH_ROWS = 500
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True, slots=True)
class Progress:
    rows: int  # data rows done
    bytes_read: int  # of the file


def opened(kind: Kind, source: BinaryIO, report: Report) -> CsvFile | None:
    """The file, its columns checked against `kind`; None (the report says why) when it
    cannot be imported at all."""
    try:
        file = CsvFile(source)
    except FileUnreadable as exc:
        report.file_error = exc
        return None
    report.file_error = missing_columns(kind, file.columns)
    report.ignored_columns = tuple(c for c in file.columns if c and c not in kind.known)
    return None if report.file_error else file


async def run_import(
    sessions: Sessions,
    *,
    kind: Kind,
    source: BinaryIO,
    organisation_id: int,
    dry_run: bool,
    actor_id: int | None = None,
    batch_rows: int = BATCH_ROWS,
    on_progress: Callable[[Progress], Awaitable[None]] | None = None,
) -> Report:
    """Import `source` (a binary file) into the organisation; see the module."""
    report = Report(dry_run=dry_run)
    file = opened(kind, source, report)
    if file is None:
        return report
    try:
        for batch in batches(kind.records(file.rows(), file.columns), batch_rows):
            async with sessions(info=scoped_to(organisation_id)) as session:
                await _write(session, kind, batch, report, dry_run=dry_run, actor_id=actor_id)
            if on_progress is not None:
                await on_progress(Progress(report.rows, file.bytes_read()))
    except FileUnreadable as exc:
        report.file_error = exc
    return report


def batches(records: Iterable[Record], rows: int) -> Iterator[list[Record]]:
    """Records in groups of about `rows` rows (an invoice's lines stay together)."""
    batch: list[Record] = []
    size = 0
    for record in records:
        batch.append(record)
        size += len(record.rows)
        if size >= rows:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


async def _write(
    session: AsyncSession,
    kind: Kind,
    batch: list[Record],
    report: Report,
    *,
    dry_run: bool,
    actor_id: int | None,
) -> None:
    transaction = await session.begin()
    try:
        for record in batch:
            report.rows += len(record.rows)
            if record.error is not None:
                report.refuse(len(record.rows), row_error(kind, record, record.error))
                continue
            try:
                async with session.begin_nested():
                    outcome = _outcome(await kind.upsert(session, record.data, actor_id))
            except (PayrequestError, ValidationError, IntegrityError) as exc:
                report.refuse(len(record.rows), row_error(kind, record, _ours(exc)))
                continue
            report.count(outcome)
    except BaseException:
        await transaction.rollback()
        raise
    if dry_run:
        await transaction.rollback()
    else:
        await transaction.commit()


def _outcome(upserted: Upserted[object]) -> str:
    if upserted.created:
        return CREATED
    return UPDATED if upserted.changed else UNCHANGED


def _ours(exc: Exception) -> PayrequestError:
    if isinstance(exc, PayrequestError):
        return exc
    if isinstance(exc, ValidationError):
        return from_pydantic(exc, {})
    # a unique constraint the command did not check first (another writer got there)
    return Conflict("This clashes with what another change wrote meanwhile; import it again")
