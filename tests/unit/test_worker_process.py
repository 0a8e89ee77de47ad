"""`run_while_database_allows`: the worker process waits out a database that is down (one line
per try, growing pauses), runs a worker once it is back, and stops that worker when the
database goes away again."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest

from payrequest.jobs.process import DatabaseBackoff, run_while_database_allows
from payrequest.jobs.runner import Worker


class FakeWorker:
    """Runs until stopped, like the real one."""

    def __init__(self, number: int) -> None:
        self.worker_id = f"fake-{number}"
        self._stopped = asyncio.Event()
        self.stopped = False

    async def run(self) -> None:
        await self._stopped.wait()

    async def stop(self, grace: float = 10.0) -> None:
        self.stopped = True
        self._stopped.set()


async def test_waits_runs_stops_and_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    answers = iter(["database down", "database down", None, None, "database down", None])
    workers: list[FakeWorker] = []
    stop = asyncio.Event()

    async def probe() -> str | None:
        answer = next(answers, None)
        if answer is None and len(workers) == 2:
            stop.set()  # the second worker has started: enough
        return answer

    async def make_worker() -> Worker:
        workers.append(FakeWorker(len(workers)))
        return cast(Worker, workers[-1])

    backoff = DatabaseBackoff(first=0.01, longest=0.02, watch_every=0.01)
    caplog.set_level(logging.INFO, logger="payrequest.jobs")
    await asyncio.wait_for(
        run_while_database_allows(make_worker, probe, stop=stop, backoff=backoff), 5
    )
    assert len(workers) == 2 and all(worker.stopped for worker in workers)
    messages = [record.getMessage() for record in caplog.records]
    assert messages[:2] == [
        "database down; retrying in 0.01 s (attempt 1)",
        "database down; retrying in 0.02 s (attempt 2)",
    ]
    assert "database down; stopping the worker until it is back" in messages


def test_backoff_doubles_up_to_the_longest() -> None:
    backoff = DatabaseBackoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
