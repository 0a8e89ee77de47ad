"""An import's report survives being kept as JSON (imports.stored): counts, columns and each
refused row's error, which still reads in every language as it did before it was kept."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from payrequest import i18n
from payrequest.errors import N_, Conflict, Msg, ValidationFailed
from payrequest.imports.report import Report, RowError
from payrequest.imports.stored import report_from_json, report_to_json
from payrequest.kit.money import Money


def _report() -> Report:
    report = Report(dry_run=True, created=3, updated=2, unchanged=1, rows=9, more_errors=4)
    report.ignored_columns = ("colour", "size")
    report.file_error = ValidationFailed("Row %(row)s has a broken quote", row=10)
    report.failed_rows = 3
    report.errors = [
        RowError(
            2,
            "due_date",
            ValidationFailed(
                "%(column)s: “%(text)s” is not a date (YYYY-MM-DD or DD.MM.YYYY)",
                field="due_date",
                column="due_date",
                text="30.02.2027",
            ),
            (2, 3),
        ),
        RowError(
            4,
            None,
            Conflict(
                "Invoice %(number)s is %(amount)s, due %(due)s, in %(fields)s; %(inner)s",
                code="invoice_busy",
                number="2027-1",
                amount=Money(123_450, "NOK"),
                due=dt.date(2027, 3, 15),
                fields=[Msg(N_("Name")), "x"],
                inner=ValidationFailed("An invoice can have at most %(limit)s lines", limit=500),
            ),
        ),
    ]
    return report


@pytest.mark.parametrize("language", ["en", "nb", "da"])
def test_a_report_kept_as_json_reads_back_the_same(language: str) -> None:
    report = _report()

    back = report_from_json(json.loads(json.dumps(report_to_json(report))))

    same = ("dry_run", "created", "updated", "unchanged", "failed_rows", "rows", "more_errors")
    assert [getattr(back, name) for name in same] == [getattr(report, name) for name in same]
    assert back.ignored_columns == ("colour", "size")
    assert back.file_error is not None and report.file_error is not None
    assert i18n.error_text(language, back.file_error) == i18n.error_text(
        language, report.file_error
    )
    for kept, original in zip(back.errors, report.errors, strict=True):
        assert (kept.row, kept.column, kept.spans) == (
            original.row,
            original.column,
            original.spans,
        )
        assert (kept.error.code, kept.error.field) == (original.error.code, original.error.field)
        assert i18n.error_text(language, kept.error) == i18n.error_text(language, original.error)


def test_the_kept_parameters_keep_their_kinds() -> None:
    back = report_from_json(json.loads(json.dumps(report_to_json(_report()))))

    params = back.errors[1].error.params
    assert params["amount"] == Money(123_450, "NOK")
    assert params["due"] == dt.date(2027, 3, 15)
    assert params["fields"] == [Msg("Name"), "x"] and isinstance(params["fields"][0], Msg)
    assert params["inner"].params == {"limit": 500}
    assert "1\xa0234,50\xa0kr" in i18n.error_text("nb", back.errors[1].error)
