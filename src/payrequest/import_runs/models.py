"""An import that runs in the worker (docs/csv.md): what was asked (which file, which kind, a
dry run or not, by whom), how far it has got, and, once it ends, its report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in

# queued: waiting for a worker; running: a worker is reading the file; done: the report is
# there; failed: the file could not be imported at all (gone, or every try broke off).
IMPORT_STATUSES = ("queued", "running", "done", "failed")
IMPORT_KINDS = ("customers", "invoices")
# Why a run failed: the uploaded file was not there (removed after a day, or kept on another
# machine than the worker's); the import broke off (the log has the error).
FAILURES = ("upload_gone", "broke_off")


class ImportRun(OrganisationOwned, Base):
    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(sql_in("status", IMPORT_STATUSES), name="status"),
        CheckConstraint(sql_in("kind", IMPORT_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(200))
    upload_token: Mapped[str] = mapped_column(String(64))
    dry_run: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    failure: Mapped[str | None] = mapped_column(String(16), nullable=True)  # FAILURES
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a user id
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
