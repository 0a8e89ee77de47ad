"""What an import reads from a file: records (a customer, or an invoice with its lines), each
either parsed into the upsert's input or refused with the row and column that was wrong; and
the two kinds of import, each a `Kind`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.errors import PayrequestError, ValidationFailed
from payrequest.imports.reader import SourceRow
from payrequest.imports.report import RowError
from payrequest.kit.upserted import Upserted
from payrequest.kit.validation import from_pydantic


@dataclass(frozen=True, slots=True)
class Record:
    """One customer or invoice of the file: its rows, and its input or why it was refused
    (`error_row`: the row the error is on)."""

    rows: tuple[int, ...]
    data: BaseModel | None
    error: PayrequestError | None = None
    error_row: int = 0

    @property
    def first_row(self) -> int:
        return self.rows[0]


def refused(rows: tuple[int, ...], error: PayrequestError, row: int | None = None) -> Record:
    return Record(rows, None, error, row if row is not None else rows[0])


def validated(model: type[BaseModel], values: Mapping[str, Any], labels: Mapping[str, str]) -> Any:
    """`model` from `values`; pydantic's complaint as our ValidationFailed naming the column."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise from_pydantic(exc, labels) from None


class Kind(Protocol):
    """Customers or invoices: the columns it knows and needs, how rows become records, and the
    command that writes one."""

    name: str
    required: tuple[str, ...]
    known: tuple[str, ...]
    columns_of_fields: Mapping[str, str]  # the column a domain error's field is about

    def records(self, rows: Iterator[SourceRow], columns: tuple[str, ...]) -> Iterator[Record]: ...

    async def upsert(
        self, session: AsyncSession, data: Any, actor_id: int | None
    ) -> Upserted[Any]: ...


def row_error(kind: Kind, record: Record, error: PayrequestError) -> RowError:
    """The error as the report keeps it: on the row it is about, naming the file's column."""
    column = kind.columns_of_fields.get(error.field or "", error.field)
    spans = record.rows if len(record.rows) > 1 else ()
    return RowError(record.error_row or record.first_row, column, error, spans)


def missing_columns(kind: Kind, columns: tuple[str, ...]) -> ValidationFailed | None:
    absent = [name for name in kind.required if name not in columns]
    if not absent:
        return None
    return ValidationFailed(
        "The first line lacks the column %(columns)s", field=absent[0], columns=absent
    )


def too_many_cells(row: SourceRow) -> ValidationFailed:
    return ValidationFailed(
        "Row %(row)s has more cells than the first line has columns (a separator inside a value "
        "needs quotes)",
        row=row.number,
    )
