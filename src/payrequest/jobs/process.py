"""Hosting a worker: inside another app's lifespan, or as the main task of a process.

Inside the web app (`payrequest serve`):

    async with running(worker):
        yield  # the app serves requests; the worker runs beside it

As its own process (`payrequest worker`): `asyncio.run(run_until_signalled(worker))`, or
`run_while_database_allows(make_worker, probe)`, which also waits out a database that is down
or not migrated: one log line per attempt, the waits growing (1 s, 2 s, 4 s ... at most a
minute), and stops the worker when the database goes away while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from payrequest.jobs.runner import Worker

logger = logging.getLogger("payrequest.jobs")

# Answers None when the database is usable, else one line saying why not (and the fix).
Probe = Callable[[], Awaitable[str | None]]


@contextlib.asynccontextmanager
async def running(worker: Worker, *, grace: float = 10.0) -> AsyncIterator[Worker]:
    """Run `worker` in the background for the duration of the block; stop it gracefully."""
    task = asyncio.create_task(worker.run(), name=f"job-worker-{worker.worker_id}")
    try:
        yield worker
    finally:
        await worker.stop(grace)
        await task


async def run_until_signalled(worker: Worker, *, grace: float = 10.0) -> None:
    """Run until SIGINT or SIGTERM, then stop gracefully (a second signal is ignored)."""
    loop = asyncio.get_running_loop()
    stopping: set[asyncio.Task[None]] = set()

    def request_stop(name: str) -> None:
        if stopping:
            return
        logger.info("job worker %s: %s received, stopping", worker.worker_id, name)
        stopping.add(loop.create_task(worker.stop(grace)))

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, request_stop, signum.name)
    try:
        await worker.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await asyncio.gather(*stopping)


@dataclass(frozen=True, slots=True)
class DatabaseBackoff:
    """Waits between tries while the database is unusable: first, doubling, at most `longest`;
    and how often a running worker checks that it still is usable."""

    first: float = 1.0
    longest: float = 60.0
    watch_every: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.first * 2 ** (attempt - 1), self.longest))


async def run_while_database_allows(
    make_worker: Callable[[], Awaitable[Worker]],
    probe: Probe,
    *,
    stop: asyncio.Event | None = None,
    backoff: DatabaseBackoff = DatabaseBackoff(),
    grace: float = 10.0,
) -> None:
    """Run workers until `stop` is set (or SIGINT/SIGTERM when `stop` is None).

    While `probe()` reports a problem, wait with `backoff`, logging one line per attempt. Once
    it reports none, run a worker from `await make_worker()` (which may first set up what
    needs the database, e.g. a LISTEN connection) and probe every `watch_every` seconds;
    when the database becomes unusable, stop that worker (its running jobs are handed back or
    left to their leases) and wait again."""
    stop = stop or _stop_on_signals()
    attempt = 0
    while not stop.is_set():
        problem = await probe()
        if problem is not None:
            attempt += 1
            delay = backoff.delay(attempt)
            logger.warning("%s; retrying in %g s (attempt %d)", problem, delay, attempt)
            await _sleep_unless(stop, delay)
            continue
        if attempt:
            logger.info(
                "database reachable again after %d attempt(s); starting the worker", attempt
            )
        attempt = 0
        worker = await make_worker()
        task = asyncio.create_task(worker.run(), name=f"job-worker-{worker.worker_id}")
        while not stop.is_set() and not task.done():
            await _sleep_unless(stop, backoff.watch_every)
            if stop.is_set() or task.done():
                break
            problem = await probe()
            if problem is not None:
                logger.warning("%s; stopping the worker until it is back", problem)
                break
        await worker.stop(grace)
        await task


def _stop_on_signals() -> asyncio.Event:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def request_stop(name: str) -> None:
        if not stop.is_set():
            logger.info("job worker: %s received, stopping", name)
            stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, request_stop, signum.name)
    return stop


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
