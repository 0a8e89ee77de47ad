"""Housekeeping, every 10 minutes: finished jobs are deleted after a day (the poller and the
automation dispatcher alone add one each per second); rate-limit hits once they are older
than every limit's window (forged webhooks alone add one each); sign-in sessions a day after
they ended or expired. The purges of other packages are handed in by `build_runtime` (those
beyond the first two as `Purging`, each with how long its rows are kept). A
periodic job of the installation: it runs acting for all organisations and purges theirs all."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from payrequest.jobs import queue
from payrequest.jobs.handlers import JobHandlers

PURGE_JOB = "jobs.purge"
KEEP_DONE = timedelta(days=1)
# Longer than the longest limit's window (a day) and the operations page's count (24 hours).
KEEP_RATE_LIMIT_HITS = timedelta(days=2)
KEEP_ENDED_SIGN_INS = timedelta(days=1)
log = logging.getLogger(__name__)


class Purge(Protocol):
    async def __call__(self, session: AsyncSession, *, older_than: timedelta) -> int: ...


@dataclass(frozen=True, slots=True)
class Purging:
    """Another package's purge: `what` it removes (for the log), rows older than `keep`."""

    what: str
    purge: Purge
    keep: timedelta


def install(
    handlers: JobHandlers,
    *,
    purge_rate_limit_hits: Purge,
    purge_sign_ins: Purge,
    more: Sequence[Purging] = (),
) -> None:
    @handlers.periodic(PURGE_JOB, every=timedelta(minutes=10))
    async def purge(session: AsyncSession, _payload: dict[str, Any]) -> None:
        await queue.purge_done(session, older_than=KEEP_DONE)
        hits = await purge_rate_limit_hits(session, older_than=KEEP_RATE_LIMIT_HITS)
        sign_ins = await purge_sign_ins(session, older_than=KEEP_ENDED_SIGN_INS)
        if hits or sign_ins:
            log.info("purged %d rate-limit hits and %d sign-in sessions", hits, sign_ins)
        for other in more:
            purged = await other.purge(session, older_than=other.keep)
            if purged:
                log.info("purged %d %s", purged, other.what)
