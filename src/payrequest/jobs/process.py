"""Hosting a worker: inside another app's lifespan, or as the main task of a process.

Inside the web app (`payrequest serve`):

    async with running(worker):
        yield  # the app serves requests; the worker runs beside it

As its own process (`payrequest worker`): `asyncio.run(run_until_signalled(worker))`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from payrequest.jobs.runner import Worker

logger = logging.getLogger("payrequest.jobs")


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
