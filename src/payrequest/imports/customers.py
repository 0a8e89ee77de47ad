"""Customers from CSV: one row per customer, upserted by its `external_id` (docs/csv.md).

A column the file does not have leaves that value of an existing customer as it is. An empty
cell of `email`, `phone`, `organisation_number` or `tags` clears it; an empty `name`, `number`,
`country` or `locale` keeps what is stored (a new customer gets the next number, Norway and
Norwegian). `tags` holds the customer's tags separated by commas (customers.tags), all of them:
they replace the stored ones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.customers.models import Customer
from payrequest.customers.schemas import CustomerUpsert
from payrequest.customers.tags import clean_tags, split_tags
from payrequest.customers.upsert import upsert_customer
from payrequest.errors import PayrequestError, ValidationFailed
from payrequest.imports.reader import SourceRow
from payrequest.imports.records import Record, refused, too_many_cells, validated
from payrequest.imports.seen import Seen
from payrequest.kit.upserted import Upserted

KEPT_WHEN_EMPTY = ("name", "number", "country", "locale")
CLEARED_WHEN_EMPTY = ("email", "phone", "organisation_number")
COLUMNS = ("external_id", *KEPT_WHEN_EMPTY, *CLEARED_WHEN_EMPTY, "tags")
LABELS = {name: name for name in COLUMNS}


def customer_input(row: SourceRow, columns: tuple[str, ...]) -> CustomerUpsert:
    """The row as the upsert's input; ValidationFailed naming the column."""
    values: dict[str, Any] = {"external_id": row.get("external_id")}
    for name in KEPT_WHEN_EMPTY:
        if name in columns and row.get(name):
            values[name] = row.get(name)
    for name in CLEARED_WHEN_EMPTY:
        if name in columns:
            values[name] = row.get(name) or None
    if "tags" in columns:
        values["tags"] = list(clean_tags(split_tags(row.get("tags") or "")))
    if "country" in values:
        values["country"] = values["country"].upper()
    if "locale" in values:
        values["locale"] = values["locale"].lower()
    result: CustomerUpsert = validated(CustomerUpsert, values, LABELS)
    return result


class Customers:
    name: str = "customers"
    required: tuple[str, ...] = ("external_id",)
    known: tuple[str, ...] = COLUMNS
    columns_of_fields: Mapping[str, str] = MappingProxyType({})

    def records(self, rows: Iterator[SourceRow], columns: tuple[str, ...]) -> Iterator[Record]:
        seen = Seen()
        for row in rows:
            if row.extra:
                yield refused((row.number,), too_many_cells(row))
                continue
            try:
                data = customer_input(row, columns)
            except PayrequestError as exc:
                yield refused((row.number,), exc)
                continue
            if seen.again(data.external_id):
                yield refused((row.number,), _repeated(data.external_id))
                continue
            yield Record((row.number,), data)

    async def upsert(
        self, session: AsyncSession, data: Any, actor_id: int | None
    ) -> Upserted[Customer]:
        return await upsert_customer(session, data=data, actor_id=actor_id)


def _repeated(external_id: str) -> ValidationFailed:
    return ValidationFailed(
        "Customer %(external_id)s came earlier in the file already",
        field="external_id",
        external_id=external_id,
    )


CUSTOMERS = Customers()
