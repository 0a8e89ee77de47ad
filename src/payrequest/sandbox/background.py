"""The background work of an emulator: tasks started once and cancelled at stop, and the
loop of a webhook deliverer (dispatch what is due, then sleep until woken or the next is due).
Shared by the Vipps MobilePay and the Stripe emulators."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

Work = Callable[[], Coroutine[Any, Any, None]]


class Background:
    """Named tasks that run until `stop`."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self, work: dict[str, Work]) -> None:
        """Start each piece of work as a task of its name (nothing if running already)."""
        if self._tasks:
            return
        self._tasks = [asyncio.create_task(make(), name=name) for name, make in work.items()]

    async def stop(self) -> None:
        """Cancel the tasks and wait for them to end."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def deliver_until_cancelled(
    wake: asyncio.Event, dispatch: Callable[[], float], senders: set[asyncio.Task[None]]
) -> None:
    """Call `dispatch` (it starts senders and says how many seconds until the next delivery is
    due), sleep that long or until `wake` is set, again; when cancelled, cancel the senders it
    started and wait for them."""
    try:
        while True:
            wake.clear()
            wait = dispatch()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=wait)
    finally:
        for task in list(senders):
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
