"""An import's report as JSON, kept with the run (imports.models.ImportRun.report) and read
back when a person looks at it: each refused row's error keeps its message template and
parameters (`i18n.kept`), so it is shown in the reader's language whenever it is read."""

from __future__ import annotations

from typing import Any

from payrequest.i18n.kept import error_from_json, error_to_json
from payrequest.imports.report import Report, RowError


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        "dry_run": report.dry_run,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "failed_rows": report.failed_rows,
        "rows": report.rows,
        "more_errors": report.more_errors,
        "ignored_columns": list(report.ignored_columns),
        "file_error": error_to_json(report.file_error) if report.file_error else None,
        "errors": [
            {
                "row": e.row,
                "column": e.column,
                "spans": list(e.spans),
                "error": error_to_json(e.error),
            }
            for e in report.errors
        ],
    }


def report_from_json(data: dict[str, Any]) -> Report:
    file_error = data.get("file_error")
    return Report(
        dry_run=bool(data["dry_run"]),
        created=int(data["created"]),
        updated=int(data["updated"]),
        unchanged=int(data["unchanged"]),
        failed_rows=int(data["failed_rows"]),
        rows=int(data["rows"]),
        more_errors=int(data["more_errors"]),
        ignored_columns=tuple(data["ignored_columns"]),
        file_error=error_from_json(file_error) if file_error else None,
        errors=[
            RowError(
                int(e["row"]),
                e["column"],
                error_from_json(e["error"]),
                tuple(int(r) for r in e["spans"]),
            )
            for e in data["errors"]
        ],
    )
