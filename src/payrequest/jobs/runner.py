"""The worker: claims due jobs under a lease and runs each handler in its own transaction.

Semantics (read this before writing a handler):

- At least once. A job is marked done in the same transaction as its handler's writes, and only
  while this worker still holds the lease (`locked_by`, `attempts` unchanged). A handler whose
  session never reached the database has no writes to share a commit with: its completion is
  recorded in a batch with the others finishing about then (jobs.completions: one statement,
  the same lease guard; batches of one when the worker is idle). A running worker
  renews the leases of its jobs every third of a lease, so a handler may run longer than one
  lease (up to its timeout), and a lease can be short: a worker that dies (kill -9) or stalls
  loses its jobs to another worker within about a lease, and its late commit is rolled back. So
  database effects commit once, but anything outside the database (an HTTP call to a provider,
  an SMS) may happen twice: handlers must be idempotent, e.g. with an idempotency key derived
  from the job id (`payrequest.jobs.context.current_job()`).
- Failure (an exception or the kind's timeout): the handler's transaction rolls back, then the
  job returns to `queued` at now + `Backoff.delay(attempts)`, with `last_error` kept; after
  `max_attempts` runs, or on `PermanentJobError`, it becomes `dead` (a dead letter) until
  `queue.retry_dead`. A lease that expires on the last attempt also makes a dead letter.
- Waiting (`RetryAt(when, reason)`, e.g. a rate limit's Retry-After): rolled back like a
  failure and counted as one attempt, but due again at `when` rather than after the backoff,
  logged as a wait, not an error.
- Periodic kinds are enqueued with dedupe key `periodic:<kind>:<slot>`, slot = floor(now /
  every), so N workers schedule each period once. Missed periods are not caught up: a run
  claimed after this worker has scheduled a later period of its kind is marked done without
  running (a backlog of a slow periodic kind never piles up ahead of other work).
- Lanes (`JobHandlers.lane`): each lane's kinds run only in that lane's slots, which no other
  kind can take; every other kind shares the `concurrency` slots. Lanes are claimed first, in
  the order they were declared, each claim asking only for its lane's kinds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterable, Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from payrequest.db.scope import ALL, Scope, acting_for, scoped_to
from payrequest.jobs import leases
from payrequest.jobs.backoff import Backoff
from payrequest.jobs.completions import Completions
from payrequest.jobs.context import JobContext, PermanentJobError, RetryAt, set_current_job
from payrequest.jobs.handlers import DEFAULT_LANE, JobHandlers
from payrequest.jobs.leases import Claimed
from payrequest.jobs.session_use import used_database, watching
from payrequest.kit.clock import utcnow

logger = logging.getLogger("payrequest.jobs")
OUTAGE_WAIT_MAX = 60.0  # seconds between tries while the database stays away


def outage_wait(failures: int) -> float:
    """Seconds to wait after `failures` failed ticks in a row: 1, 2, 4 … up to a minute, so a
    database that is away costs one log line per try, not one per poll interval."""
    return min(OUTAGE_WAIT_MAX, 2.0 ** max(0, failures - 1))


Clock = Callable[[], datetime]
MIN_WAIT_SECONDS = 0.01
MIN_LEASE = timedelta(seconds=3)  # renewed every third: a second between renewals at least
# A backlog found to be one organisation's is looked at again after this long: the claims in
# between save the look's statement, and another organisation's new job waits that much more.
FAIRNESS_RECHECK = 0.1  # seconds


class LeaseLost(Exception):
    """This worker's lease on a job ended and another worker took it over."""


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def error_summary(exc: BaseException, *, timeout: timedelta | None = None) -> str:
    """`Type: message` plus where it was raised, short enough for a table cell."""
    if isinstance(exc, TimeoutError) and timeout is not None:
        return f"TimeoutError: handler ran longer than {timeout.total_seconds():g} s"
    summary = f"{type(exc).__name__}: {exc}".rstrip(": ")
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        summary += f"\n  at {last.filename}:{last.lineno} in {last.name}"
    return summary


def _autocommit_engine(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    """PostgreSQL: the claim is one statement, atomic on its own, so it runs without BEGIN and
    COMMIT (two round trips fewer). SQLite keeps its BEGIN IMMEDIATE write lock."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, AsyncEngine) and bind.dialect.name == "postgresql":
        return bind.execution_options(isolation_level="AUTOCOMMIT")
    return None


class Worker:
    """Runs jobs from the `jobs` table. One per process is plenty; scale out with processes."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        handlers: JobHandlers,
        *,
        worker_id: str | None = None,
        lease: timedelta = timedelta(seconds=45),
        poll_interval: timedelta = timedelta(seconds=1),
        concurrency: int = 4,
        backoff: Backoff | None = None,
        clock: Clock = utcnow,
        wakeups: AsyncIterable[object] | None = None,
    ) -> None:
        """`concurrency`: how many jobs of kinds outside a lane run at once; each lane of
        `handlers` adds its own slots. `wakeups`: anything that yields when new jobs may be
        due (the app passes its PostgreSQL LISTEN/NOTIFY listener, db/pg_notify.py). Each item
        wakes the worker; polling stays the fallback."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if poll_interval <= timedelta(0):
            raise ValueError("poll_interval must be positive")
        if lease < MIN_LEASE:
            raise ValueError(f"lease {lease} must be at least {MIN_LEASE}")
        self._sessions = sessions
        self._autocommit = _autocommit_engine(sessions)
        self._completions = Completions(self._complete_batch)
        self._handlers = handlers
        self.worker_id = (worker_id or default_worker_id())[:64]
        self._lease = lease
        self._poll = poll_interval.total_seconds()
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._wakeups = wakeups
        self._lanes = _lanes(handlers, concurrency)
        self._lane_of = {kind: name for name, _, kinds in self._lanes for kind in kinds}
        self._periodic_kinds = {spec.kind for spec in handlers.periodic_specs}
        self._signal = asyncio.Event()
        self._tasks: dict[asyncio.Task[None], Claimed] = {}
        # Jobs whose handler has finished, waiting for their batched completion: their slots
        # are free again, so the next claim overlaps the completions' statement.
        self._settling: set[int] = set()
        self._scheduled: dict[str, int] = {}
        # Lanes whose last claim filled every free slot: a backlog may be waiting, so their
        # next claims share the slots between organisations (leases.claim_fairly).
        self._backlogged: set[str] = set()
        # Lanes whose backlog a look found to be one organisation's alone: until this
        # (monotonic) time their claims skip the look and take the oldest jobs.
        self._alone_until: dict[str, float] = {}
        self._turn = 0
        self._next_reap: datetime | None = None
        self._stopping = False
        self._grace = 10.0
        self._running = False
        self._stopped = asyncio.Event()

    # --- control ------------------------------------------------------------------------

    def notify(self) -> None:
        """Wake the worker now (call after committing an enqueue in the same process)."""
        self._signal.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self) -> None:
        """Claim and run jobs until `stop()`; survives database outages by retrying.

        A stopped worker stays stopped (a `stop()` before `run()` makes `run()` return at once);
        build a new one to start again."""
        if self._running:
            raise RuntimeError("this worker is already running")
        self._running = True
        self._stopped.clear()
        follower = asyncio.create_task(self._follow_wakeups()) if self._wakeups else None
        renewer = asyncio.create_task(self._renew_leases())
        failures = 0  # ticks in a row that failed: the database is away
        try:
            while not self._stopping:
                self._signal.clear()
                try:
                    await self._tick()
                    failures = 0
                except Exception:
                    failures += 1
                    logger.exception(
                        "job worker %s: claiming failed (%d in a row); next try in %.0f s",
                        self.worker_id,
                        failures,
                        outage_wait(failures),
                    )
                if not self._stopping:
                    await self._wait(outage_wait(failures) if failures else self._next_wait())
        finally:
            renewer.cancel()
            if follower is not None:
                follower.cancel()
            await self._drain()
            self._running = False
            self._stopped.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; wait up to `grace` seconds for running handlers, then cancel them and
        give their jobs back (status queued, the attempt not counted)."""
        self._grace = grace
        self._stopping = True
        self._signal.set()
        if self._running:
            await self._stopped.wait()

    async def run_once(self) -> int:
        """Run every job due now (not retries scheduled meanwhile); return how many ran."""
        cutoff = self._clock()
        await self._reap()
        await self._schedule_periodic()
        count = 0
        while batch := await self._claim_lanes(Counter(), due_before=cutoff):
            count += len(batch)
            await asyncio.gather(*(self._execute(job) for job in batch))
        return count

    # --- the loop -----------------------------------------------------------------------

    async def _tick(self) -> None:
        now = self._clock()
        if self._next_reap is None or now >= self._next_reap:
            await self._reap()
            self._next_reap = now + self._lease / 4  # a lost lease waits at most 1.25 leases
        await self._schedule_periodic()
        running = Counter(
            self._lane_of[job.kind] for job in self._tasks.values() if job.id not in self._settling
        )
        for job in await self._claim_lanes(running):
            task = asyncio.create_task(self._execute(job), name=f"job-{job.id}-{job.kind}")
            self._tasks[task] = job
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        job = self._tasks.pop(task, None)
        if job is not None:
            self._settling.discard(job.id)
        self._signal.set()

    def _next_wait(self) -> float:
        now = self._clock()
        wait = self._poll
        for spec in self._handlers.periodic_specs:
            next_start = spec.slot_start(spec.slot(now) + 1)
            wait = min(wait, (next_start - now).total_seconds())
        return max(wait, MIN_WAIT_SECONDS)

    async def _wait(self, seconds: float) -> None:
        if self._signal.is_set():  # woken while claiming: go again without a timer task
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._signal.wait(), timeout=seconds)

    async def _follow_wakeups(self) -> None:
        assert self._wakeups is not None
        try:
            async for _ in self._wakeups:
                self.notify()
        except Exception:
            logger.exception("job worker %s: wake-ups failed; polling only", self.worker_id)

    async def _renew_leases(self) -> None:
        """Every third of a lease, extend the leases of the jobs running here."""
        interval = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            held = [job.id for job in self._tasks.values()]
            if not held:
                continue
            try:
                async with self._own_session() as session, session.begin():
                    await leases.renew(
                        session,
                        job_ids=held,
                        worker_id=self.worker_id,
                        until=self._clock() + self._lease,
                    )
            except Exception:
                logger.exception("job worker %s: could not renew its leases", self.worker_id)

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._grace)
        interrupted = [self._tasks[task] for task in pending if task in self._tasks]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for job in interrupted:
            await self._release(job)

    # --- database steps, each its own short transaction ----------------------------------

    def _own_session(self) -> AsyncSession:
        """A session for the worker's bookkeeping: claims, leases, schedules, for every
        organisation at once."""
        return self._sessions(info=scoped_to(ALL))

    def _job_session(self, job: Claimed) -> AsyncSession:
        """The session a handler runs in: scoped to the organisation the job acts for (the
        installation's own jobs act for all), watched for whether it reaches the database."""
        return self._sessions(info=scoped_to(_scope(job)) | watching())

    async def _claim_lanes(
        self, running: Counter[str], *, due_before: datetime | None = None
    ) -> list[Claimed]:
        """Fill every lane's free slots, lanes first (declaration order), then the rest."""
        claimed: list[Claimed] = []
        for name, slots, kinds in self._lanes:
            free = slots - running[name]
            got = await self._claim(free, kinds, lane=name, due_before=due_before)
            if free > 0:
                if len(got) >= free:
                    self._backlogged.add(name)
                else:
                    self._backlogged.discard(name)
            claimed += got
        return claimed

    def _shares(self, lane: str) -> bool:
        """Whether `lane`'s next claim is shared between the organisations waiting: while it
        is backlogged, unless a look found one organisation alone less than
        FAIRNESS_RECHECK ago."""
        return lane in self._backlogged and time.monotonic() >= self._alone_until.get(lane, 0.0)

    async def _claim(
        self,
        limit: int,
        kinds: Sequence[str],
        *,
        lane: str,
        due_before: datetime | None = None,
    ) -> list[Claimed]:
        if limit <= 0 or not kinds:
            return []
        now = self._clock()
        turn = self._turn = self._turn + 1
        fairly = self._shares(lane)

        async def claim(executor: AsyncSession | AsyncConnection) -> list[Claimed]:
            if fairly:
                waiting = await leases.waiting_organisations(
                    executor, kinds=kinds, due_before=due_before or now
                )
                if len(waiting) > 1:
                    return await leases.claim_fairly(
                        executor,
                        worker_id=self.worker_id,
                        kinds=kinds,
                        limit=limit,
                        now=now,
                        lease=self._lease,
                        turn=turn,
                        due_before=due_before,
                        waiting=waiting,
                    )
                self._alone_until[lane] = time.monotonic() + FAIRNESS_RECHECK
            return await leases.claim(
                executor,
                worker_id=self.worker_id,
                kinds=kinds,
                limit=limit,
                now=now,
                lease=self._lease,
                due_before=due_before,
            )

        if self._autocommit is not None:
            async with self._autocommit.connect() as connection:
                return await claim(connection)
        async with self._own_session() as session, session.begin():
            return await claim(session)

    async def _complete_batch(self, jobs: Sequence[Claimed]) -> set[int]:
        """Mark `jobs` done in one statement (autocommitted on PostgreSQL, as the claim)."""
        now = self._clock()
        if self._autocommit is not None:
            async with self._autocommit.connect() as connection:
                return await leases.complete_many(
                    connection, jobs=jobs, worker_id=self.worker_id, now=now
                )
        async with self._own_session() as session, session.begin():
            return await leases.complete_many(session, jobs=jobs, worker_id=self.worker_id, now=now)

    async def _reap(self) -> None:
        async with self._own_session() as session, session.begin():
            dead = await leases.reap(session, now=self._clock())
        if dead:
            logger.error("%d jobs lost their worker on the last attempt: dead letters", dead)

    async def _schedule_periodic(self) -> None:
        now = self._clock()
        due = [(spec, spec.slot(now)) for spec in self._handlers.periodic_specs]
        due = [(spec, slot) for spec, slot in due if self._scheduled.get(spec.kind) != slot]
        if not due:
            return
        async with self._own_session() as session, session.begin():
            for spec, slot in due:
                start = spec.slot_start(slot)
                await self._handlers.enqueue(
                    session,
                    kind=spec.kind,
                    payload={"slot": slot, "scheduled_for": start.isoformat()},
                    run_at=start,
                    dedupe_key=spec.dedupe_key(slot),
                )
        self._scheduled.update({spec.kind: slot for spec, slot in due})

    async def _execute(self, job: Claimed) -> None:
        # Sessions the handler opens itself (around a provider call) act for the job's
        # organisation too.
        with acting_for(_scope(job)):
            await self._execute_for(job)

    async def _execute_for(self, job: Claimed) -> None:
        spec = self._handlers.spec(job.kind)
        set_current_job(
            JobContext(job.id, job.kind, job.attempts, job.max_attempts, self.worker_id)
        )
        try:
            async with self._job_session(job) as session, session.begin():
                if not self._superseded(job):
                    async with asyncio.timeout(spec.timeout.total_seconds()):
                        await spec.handler(session, dict(job.payload))
                batched = not used_database(session)
                if not batched and not await leases.complete(
                    session, job=job, worker_id=self.worker_id, now=self._clock()
                ):
                    raise LeaseLost(job.id)
            if batched and not await self._settle(job):
                raise LeaseLost(job.id)
        except LeaseLost:
            logger.warning(
                "job %s (%s): lease lost to another worker; this run is rolled back",
                job.id,
                job.kind,
            )
        except RetryAt as wait:
            await self._record_wait(job, wait)
        except Exception as exc:
            await self._record_failure(job, exc, error_summary(exc, timeout=spec.timeout))

    async def _settle(self, job: Claimed) -> bool:
        """Complete `job` in the next batch, its slot freed meanwhile (the worker is woken to
        fill it); False if the lease was lost."""
        self._settling.add(job.id)
        self._signal.set()
        return await self._completions.complete(job)

    def _superseded(self, job: Claimed) -> bool:
        """A periodic run of a period before the latest one this worker scheduled: that later
        run does its work, so this one is skipped."""
        if job.kind not in self._periodic_kinds:
            return False
        slot = job.payload.get("slot")
        latest = self._scheduled.get(job.kind)
        return isinstance(slot, int) and latest is not None and slot < latest

    async def _record_wait(self, job: Claimed, wait: RetryAt) -> None:
        if job.last_attempt:
            await self._record_failure(job, wait, f"RetryAt: {wait.reason}")
            return
        when = max(wait.when, self._clock())
        logger.info(
            "job %s (%s) attempt %d/%d waits until %s: %s",
            *(job.id, job.kind, job.attempts, job.max_attempts),
            when.isoformat(),
            wait.reason,
        )
        await self._store_failure(job, f"waiting until {when.isoformat()}: {wait.reason}", when)

    async def _record_failure(self, job: Claimed, exc: Exception, error: str) -> None:
        now = self._clock()
        dead = job.last_attempt or isinstance(exc, PermanentJobError)
        retry_at = None if dead else now + self._backoff.delay(job.attempts)
        log = logger.error if dead else logger.warning
        log(
            "job %s (%s) attempt %d/%d failed%s: %s",
            *(job.id, job.kind, job.attempts, job.max_attempts),
            "; dead letter" if dead else f"; retry at {retry_at}",
            error,
            exc_info=exc,
        )
        await self._store_failure(job, error, retry_at)

    async def _store_failure(self, job: Claimed, error: str, retry_at: datetime | None) -> None:
        """Back to the queue at `retry_at` (None: a dead letter), keeping `error`."""
        now = self._clock()
        try:
            async with self._own_session() as session, session.begin():
                await leases.fail(
                    session,
                    job=job,
                    worker_id=self.worker_id,
                    now=now,
                    error=error,
                    retry_at=retry_at,
                )
        except Exception:
            logger.exception("job %s: could not record the failure; its lease will expire", job.id)

    async def _release(self, job: Claimed) -> None:
        try:
            async with self._own_session() as session, session.begin():
                await leases.release(session, job=job, worker_id=self.worker_id, now=self._clock())
        except Exception:
            logger.exception("job %s: could not release; its lease will expire", job.id)


def _scope(job: Claimed) -> Scope:
    return ALL if job.organisation_id is None else job.organisation_id


def _lanes(handlers: JobHandlers, concurrency: int) -> list[tuple[str, int, list[str]]]:
    """(lane, slots, kinds) in claim order: the declared lanes, then `default` for the rest."""
    lanes: list[tuple[str, int, list[str]]] = []
    for lane in handlers.lanes:
        kinds = sorted(kind for kind in lane.kinds if kind in handlers)
        if kinds:
            lanes.append((lane.name, lane.slots, kinds))
    in_lanes = {kind for _, _, kinds in lanes for kind in kinds}
    rest = [kind for kind in handlers.kinds if kind not in in_lanes]
    lanes.append((DEFAULT_LANE, concurrency, rest))
    return lanes
