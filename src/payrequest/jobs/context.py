"""The job a handler is running, for handlers that want its id or attempt number.

    from payrequest.jobs.context import current_job
    ctx = current_job()  # JobContext(job_id=..., kind=..., attempt=..., ...)

An idempotency key derived from `job_id` stays the same across retries of the job.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class JobContext:
    job_id: int
    kind: str
    attempt: int  # 1 on the first run
    max_attempts: int
    worker_id: str


_current: ContextVar[JobContext | None] = ContextVar("payrequest_current_job", default=None)


def current_job() -> JobContext:
    """The running job; raises LookupError outside a job handler."""
    context = _current.get()
    if context is None:
        raise LookupError("not inside a job handler")
    return context


def set_current_job(context: JobContext) -> None:
    """Used by the worker; each handler runs in its own task, so this never leaks across jobs."""
    _current.set(context)


class PermanentJobError(Exception):
    """Raise from a handler when retrying cannot help: the job goes straight to dead letters."""


class RetryAt(Exception):
    """Raise from a handler to run the job again at `when` (an API asked us to wait until
    then), instead of after the backoff. The run rolls back and counts as one attempt, like a
    failure, so a wait that never ends still ends in a dead letter; but the job comes back
    exactly when it may succeed, not early (to be refused again) or late."""

    def __init__(self, when: datetime, reason: str) -> None:
        super().__init__(reason)
        self.when = when
        self.reason = reason
