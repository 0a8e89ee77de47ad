"""The EXPLAIN check of `python -m bench bigdata`: every SELECT a page sends, captured from the
app's engine while the page is served once, is explained with the same parameters; a plan
that reads a big table from end to end (a Seq Scan on it) fails the benchmark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

BIG_TABLES = frozenset(
    {
        "customers",
        "invoices",
        "allocations",
        "credits",
        "payment_requests",
        "payment_request_invoices",
        "payment_request_events",
    }
)


@dataclass
class Captured:
    """The SELECT statements sent while capturing, with their parameters."""

    statements: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


@contextmanager
def capture(engine: AsyncEngine) -> Iterator[Captured]:
    """Record every SELECT the engine sends inside the block."""
    captured = Captured()

    def before(
        conn: object, cursor: object, statement: str, parameters: Any, context: object, many: bool
    ) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.statements.append((statement, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield captured
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the plans of one page's statements read: the indexes used, and every big table
    read by a Seq Scan (with the statement's first line, to find it)."""

    statements: int
    indexes: frozenset[str]
    seq_scans: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.seq_scans


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def explain(dsn: str, captured: Captured, organisation_id: int) -> Verdict:
    """EXPLAIN each captured statement as the organisation's session would run it."""
    conn = await asyncpg.connect(dsn)
    indexes: set[str] = set()
    seq: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('payrequest.organisation_id', $1, true)", str(organisation_id)
            )
            for statement, parameters in captured.statements:
                raw = await conn.fetchval("EXPLAIN (FORMAT JSON) " + statement, *parameters)
                plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
                for node in _nodes(plan):
                    if "Index Name" in node:
                        indexes.add(node["Index Name"])
                    if node["Node Type"] == "Seq Scan" and node["Relation Name"] in BIG_TABLES:
                        first = " ".join(statement.split())[:160]
                        seq.append(f"{node['Relation Name']}: {first}")
    finally:
        await conn.close()
    return Verdict(len(captured.statements), frozenset(indexes), tuple(seq))
