"""Group commit for completions: one statement marks done every job that finished meanwhile.

A finished job waits in `Completions.complete` while one flush at a time writes the waiting
jobs with a single statement (`leases.complete_many`). Nothing is timed: when the worker is idle
a flush carries the one job that just finished (no added latency); under load the jobs that
finish while a flush is in flight go together in the next one, so the batch grows with the
load, up to `max_batch`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence

from payrequest.jobs.leases import Claimed

WriteCompletions = Callable[[Sequence[Claimed]], Awaitable[Collection[int]]]
MAX_BATCH = 500


class Completions:
    """Batches the completions of one worker's jobs; `write` marks jobs done in one statement
    and returns the ids it marked (a job left out had lost its lease)."""

    def __init__(self, write: WriteCompletions, *, max_batch: int = MAX_BATCH) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write = write
        self._max_batch = max_batch
        self._waiting: list[tuple[Claimed, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def complete(self, job: Claimed) -> bool:
        """Return once `job` is marked done, with the others finishing about now: True, or
        False if this worker's lease on it was lost. Raises what the write raised."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((job, done))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="job-completions")
        return await done

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._write_batch(batch)
        except BaseException:  # cancelled (the loop is closing): nobody will flush the rest
            for _, done in self._waiting:
                done.cancel()
            self._waiting.clear()
            raise
        finally:
            self._flusher = None

    async def _write_batch(self, batch: list[tuple[Claimed, asyncio.Future[bool]]]) -> None:
        try:
            marked = set(await self._write([job for job, _ in batch]))
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        except BaseException:  # cancelled: the waiters must not wait for ever
            for _, done in batch:
                done.cancel()
            raise
        for job, done in batch:
            if not done.done():
                done.set_result(job.id in marked)
