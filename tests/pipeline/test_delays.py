"""DelayQueue: items come out in due order, never before they are due."""

from __future__ import annotations

import asyncio
import time

from hrec_ingest.pipeline.delays import DelayQueue


async def test_items_come_out_when_due_in_order() -> None:
    queue: DelayQueue[str] = DelayQueue()
    start = time.monotonic()
    queue.put("late", 0.3)
    queue.put("soon", 0.1)
    queue.put("now")
    got = [await asyncio.wait_for(queue.get(), 2) for _ in range(3)]
    assert got == ["now", "soon", "late"]
    assert time.monotonic() - start >= 0.3


async def test_an_earlier_item_wakes_a_waiting_consumer() -> None:
    queue: DelayQueue[str] = DelayQueue()
    queue.put("far", 60)
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put("near", 0.05)
    assert await asyncio.wait_for(waiter, 2) == "near"
    assert len(queue) == 1
