"""Due times of many items in a few groups (the poller's tasks, grouped by tenant).

One heap per group, so that the poller can ask "how many of this tenant's
tasks fall due soon?" without looking at the others, and skip a tenant while
one task-list request covers all of its tasks. Counting stops at a limit, so
the question costs a handful of steps however many tasks wait.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Collection
from typing import Generic, TypeVar

T = TypeVar("T")
_Entry = tuple[float, int, T]


def count_due(heap: list[tuple[float, int, T]], horizon: float, limit: int) -> int:
    """How many entries of a heap are due by ``horizon``, counting no further than ``limit``.

    Walks only the top of the heap (a parent is never due later than its
    children), so the cost is about ``2 * limit`` steps whatever its size.
    """
    found = 0
    stack = [0] if heap else []
    while stack and found < limit:
        index = stack.pop()
        if heap[index][0] > horizon:
            continue
        found += 1
        stack.extend(child for child in (2 * index + 1, 2 * index + 2) if child < len(heap))
    return found


class GroupSchedule(Generic[T]):
    """Items put with a delay, in one heap per group; ``wait`` names a group with an item due."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._heaps: dict[str, list[_Entry[T]]] = {}
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return sum(len(heap) for heap in self._heaps.values())

    def put(self, group: str, item: T, delay: float = 0.0) -> None:
        """Make ``item`` of ``group`` due ``delay`` seconds from now."""
        heap = self._heaps.setdefault(group, [])
        heapq.heappush(heap, (self._clock() + delay, next(self._order), item))
        self._changed.set()

    def poke(self) -> None:
        """Wake ``wait``: something it skips may no longer be skipped."""
        self._changed.set()

    def pop(self, group: str) -> T:
        """The group's earliest item, due or not (IndexError if the group is empty)."""
        return heapq.heappop(self._heaps[group])[2]

    def count_due(self, group: str, horizon: float, limit: int) -> int:
        """How many of the group's items are due within ``horizon`` seconds (at most ``limit``)."""
        heap = self._heaps.get(group)
        return count_due(heap, self._clock() + horizon, limit) if heap else 0

    def earliest(self, skip: Collection[str] = ()) -> tuple[float, str] | None:
        """(due time, group) of the earliest item outside the groups in ``skip``."""
        best: tuple[float, str] | None = None
        for group, heap in self._heaps.items():
            if heap and group not in skip and (best is None or heap[0][0] < best[0]):
                best = (heap[0][0], group)
        return best

    async def wait(self, skip: Callable[[], Collection[str]] = frozenset) -> str:
        """Return a group whose earliest item is due, once there is one.

        ``skip`` is asked again each time something changes (a put, a poke),
        so a group can be left out while it is busy.
        """
        while True:
            self._changed.clear()
            earliest = self.earliest(skip())
            if earliest is not None and earliest[0] <= self._clock():
                return earliest[1]
            timeout = None if earliest is None else earliest[0] - self._clock()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=timeout)
            except TimeoutError:
                pass
