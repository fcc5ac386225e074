"""A queue whose items become available after a delay: "try again later" for a stage."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class DelayQueue(Generic[T]):
    """Items put with a delay come out of ``get`` in due order, no earlier than due."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def put(self, item: T, delay: float = 0.0) -> None:
        heapq.heappush(self._heap, (self._clock() + delay, next(self._order), item))
        self._changed.set()

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self) -> list[T]:
        """Every item due now, in due order, without waiting."""
        now = self._clock()
        due: list[T] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due

    async def wait_due(self) -> None:
        """Return once the earliest item is due (an earlier item put meanwhile counts)."""
        while True:
            due = self.next_due()
            timeout = None if due is None else due - self._clock()
            if timeout is not None and timeout <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=timeout)
            except TimeoutError:
                return

    async def get(self) -> T:
        """The earliest item, once it is due; several consumers may wait at once."""
        while True:
            await self.wait_due()
            if self._heap and self._heap[0][0] <= self._clock():
                return heapq.heappop(self._heap)[2]
