"""An import's report as JSON, kept with the run (imports.models.ImportRun.report) and read
back when a person looks at it: each refused row's error keeps its message template and
parameters, so it is shown in the reader's language whenever it is read, as on the day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from payrequest.errors import Msg, PayrequestError
from payrequest.imports.report import Report, RowError
from payrequest.kit.money import Money


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
        "file_error": _error(report.file_error) if report.file_error else None,
        "errors": [
            {"row": e.row, "column": e.column, "spans": list(e.spans), "error": _error(e.error)}
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
        file_error=_error_from(file_error) if file_error else None,
        errors=[
            RowError(
                int(e["row"]),
                e["column"],
                _error_from(e["error"]),
                tuple(int(r) for r in e["spans"]),
            )
            for e in data["errors"]
        ],
    )


def _error(error: PayrequestError) -> dict[str, Any]:
    return {
        "template": error.template,
        "code": error.code,
        "field": error.field,
        "params": {name: _value(item) for name, item in error.params.items()},
    }


def _error_from(data: dict[str, Any]) -> PayrequestError:
    params = {name: _value_from(item) for name, item in data["params"].items()}
    return PayrequestError.restored(
        data["template"], field=data["field"], code=data["code"], params=params
    )


def _value(item: Any) -> Any:
    """A message parameter as JSON, tagged where JSON has no type of its own."""
    if isinstance(item, Msg):
        return {"msg": str(item)}
    if item is None or isinstance(item, str | int | float):
        return item
    if isinstance(item, Money):
        return {"money": [item.amount, item.currency]}
    if isinstance(item, dt.datetime):
        return {"moment": item.isoformat()}
    if isinstance(item, dt.date):
        return {"day": item.isoformat()}
    if isinstance(item, dt.timedelta):
        return {"seconds": item.total_seconds()}
    if isinstance(item, PayrequestError):
        return {"error": _error(item)}
    if isinstance(item, list | tuple | set | frozenset):
        return {"list": [_value(part) for part in item]}
    return str(item)


def _value_from(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    [(tag, item)] = data.items()
    if tag == "msg":
        return Msg(item)
    if tag == "money":
        return Money(int(item[0]), str(item[1]))
    if tag == "moment":
        return dt.datetime.fromisoformat(item)
    if tag == "day":
        return dt.date.fromisoformat(item)
    if tag == "seconds":
        return dt.timedelta(seconds=item)
    if tag == "error":
        return _error_from(item)
    return [_value_from(part) for part in item]
