"""What an import did or, in a dry run, would do: counts, and the rows it refused with why.

An error keeps the domain's message template and parameters (payrequest.errors), so each
reader gets it in their own language (`payrequest.i18n.error_text`); the command line prints
the English. A file of a hundred thousand bad rows does not fill the memory: the first
`KEPT_ERRORS` are kept, the rest only counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from payrequest.errors import PayrequestError

KEPT_ERRORS = 1000
CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"


@dataclass(frozen=True, slots=True)
class RowError:
    """Row `row` (the header is row 1) was refused; `column` names the cell, if one."""

    row: int
    column: str | None
    error: PayrequestError
    # The rows the refusal takes with it (an invoice's lines), when more than `row` alone.
    spans: tuple[int, ...] = ()


@dataclass
class Report:
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_rows: int = 0  # rows refused (an invoice's every line counts)
    rows: int = 0  # data rows read
    errors: list[RowError] = field(default_factory=list)
    more_errors: int = 0  # refused rows beyond those kept in `errors`
    ignored_columns: tuple[str, ...] = ()  # columns of the file this import does not know
    file_error: PayrequestError | None = None  # the file could not be read on from here

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def refuse(self, rows: int, error: RowError) -> None:
        """`rows` rows (an invoice's lines) were refused, for `error`."""
        self.failed_rows += rows
        if len(self.errors) < KEPT_ERRORS:
            self.errors.append(error)
        else:
            self.more_errors += 1

    @property
    def ok(self) -> bool:
        return self.failed_rows == 0 and self.file_error is None

    @property
    def written(self) -> int:
        """Records created or updated (in a dry run: that would be)."""
        return self.created + self.updated
