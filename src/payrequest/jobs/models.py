"""Jobs: work that must happen eventually, at least once, surviving restarts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from payrequest.db.base import Base
from payrequest.db.scope import OrganisationOwned
from payrequest.db.types import UTCDateTime, created_at_column, sql_in, updated_at_column

JOB_STATUSES = ("queued", "running", "done", "dead")


class Job(OrganisationOwned, Base):
    __tablename__ = "jobs"
    organisation_optional = True
    __table_args__ = (
        CheckConstraint(sql_in("status", JOB_STATUSES), name="status"),
        CheckConstraint("attempts >= 0 AND max_attempts > 0", name="attempts"),
        Index("ix_jobs_status_run_at", "status", "run_at"),
        # The claim's range: due queued jobs, oldest first, without sorting the backlog.
        Index(
            "ix_jobs_queued_run_at",
            "run_at",
            "id",
            sqlite_where=text("status = 'queued'"),
            postgresql_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The same dedupe key never enqueues twice (e.g. "capture:<reference>").
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    run_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=20)
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
