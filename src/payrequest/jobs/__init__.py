"""A job table runner: due jobs claimed under a lease, retried with backoff, dead letters.

Public API (see each module for details):

- `handlers`: `JobHandlers` (`@handlers.job`, `@handlers.periodic`)
- `queue`: `enqueue`, `retry_dead`, `list_jobs`, `count_by_status`, `purge_done`, `get_job`
- `read`: `counts_by_kind`, `failing` (the operations page's views of the queue)
- `runner`: `Worker` (`run`, `run_once`, `stop`, `notify`)
- `process`: `running(worker)` for an app lifespan, `run_until_signalled(worker)` for a process
- `context`: `current_job()` inside a handler, `PermanentJobError`
- `backoff`: `Backoff(base, cap)`
"""

from payrequest.jobs.backoff import Backoff
from payrequest.jobs.context import JobContext, PermanentJobError, current_job
from payrequest.jobs.handlers import JobHandlers
from payrequest.jobs.queue import enqueue, list_jobs, retry_dead
from payrequest.jobs.runner import Worker

__all__ = [
    "Backoff",
    "JobContext",
    "JobHandlers",
    "PermanentJobError",
    "Worker",
    "current_job",
    "enqueue",
    "list_jobs",
    "retry_dead",
]
