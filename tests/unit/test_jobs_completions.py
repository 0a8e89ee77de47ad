"""Group commit of completions: a batch of one when idle, the rest together under load, lost
leases and write failures told to each waiting job."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import pytest

from payrequest.jobs.completions import Completions
from payrequest.jobs.leases import Claimed


def _job(job_id: int) -> Claimed:
    return Claimed(job_id, "k", {}, 1, 3, datetime(2026, 1, 1, tzinfo=UTC), None)


class Writes:
    """A fake `write`: records each batch; holds it until `release` while `held` is set."""

    def __init__(self, *, lost: Collection[int] = ()) -> None:
        self.batches: list[list[int]] = []
        self.lost = set(lost)
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, jobs: Sequence[Claimed]) -> set[int]:
        self.batches.append([job.id for job in jobs])
        if self.held.is_set():
            await self.release.wait()
        return {job.id for job in jobs} - self.lost


async def test_an_idle_worker_writes_each_completion_at_once() -> None:
    writes = Writes()
    completions = Completions(writes)
    assert await completions.complete(_job(1))
    assert await completions.complete(_job(2))
    assert writes.batches == [[1], [2]]


async def test_completions_arriving_during_a_write_go_together_in_the_next() -> None:
    writes = Writes()
    writes.held.set()
    completions = Completions(writes)
    first = asyncio.create_task(completions.complete(_job(1)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)  # the first write is in flight, held
    rest = [asyncio.create_task(completions.complete(_job(n))) for n in range(2, 7)]
    await asyncio.sleep(0)
    writes.held.clear()
    writes.release.set()
    assert await first
    assert await asyncio.gather(*rest) == [True] * 5
    assert writes.batches == [[1], [2, 3, 4, 5, 6]]


async def test_batches_stop_at_the_maximum() -> None:
    writes = Writes()
    completions = Completions(writes, max_batch=2)
    done = await asyncio.gather(*(completions.complete(_job(n)) for n in range(1, 6)))
    assert done == [True] * 5
    assert writes.batches == [[1, 2], [3, 4], [5]]


async def test_a_lost_lease_is_told_to_its_job_only() -> None:
    writes = Writes(lost={2})
    completions = Completions(writes)
    done = await asyncio.gather(*(completions.complete(_job(n)) for n in (1, 2, 3)))
    assert done == [True, False, True]


async def test_a_failed_write_is_raised_in_each_of_its_jobs_and_the_next_batch_goes_on() -> None:
    calls = 0

    async def write(jobs: Sequence[Claimed]) -> set[int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database away")
        return {job.id for job in jobs}

    completions = Completions(write)
    failed = await asyncio.gather(
        completions.complete(_job(1)), completions.complete(_job(2)), return_exceptions=True
    )
    assert [type(result) for result in failed] == [ConnectionError, ConnectionError]
    assert await completions.complete(_job(3))


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Completions(Writes(), max_batch=0)
