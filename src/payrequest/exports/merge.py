"""Several sorted streams as one sorted stream, holding one item of each at a time."""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


async def merged(streams: Sequence[AsyncIterator[T]], key: Callable[[T], Any]) -> AsyncIterator[T]:
    """The items of `streams`, each already sorted by `key`, in `key` order (ties: the
    earlier stream first)."""
    heads: list[tuple[Any, int, T]] = []
    for index, stream in enumerate(streams):
        first = await anext(stream, None)
        if first is not None:
            heads.append((key(first), index, first))
    heapq.heapify(heads)
    while heads:
        _, index, item = heapq.heappop(heads)
        yield item
        following = await anext(streams[index], None)
        if following is not None:
            heapq.heappush(heads, (key(following), index, following))
