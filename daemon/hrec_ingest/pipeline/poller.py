"""Poller: one scheduler over every task in flight, a heap of due times.

Ten thousand tasks cost ten thousand heap entries, not ten thousand
coroutines; at most POLL_CONCURRENCY status requests are out at once. The
schedule follows the guide's section 1.2.1: first poll after
POLL_INITIAL_DELAY_SECONDS, then every POLL_INTERVAL_SECONDS, except that a
task that has just entered ``sttProcessing`` is next asked after its
``sttRemainingTime``. Errors back off exponentially with jitter.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from hrec_ingest.journal import Journal, TaskState
from hrec_ingest.miaop import SINGLE_ATTEMPT, MiaopClient
from hrec_ingest.miaop.backoff import full_jitter
from hrec_ingest.miaop.errors import MiaopError, NotFoundError
from hrec_ingest.miaop.models import TaskStatus
from hrec_ingest.pipeline.delays import DelayQueue

log = structlog.get_logger(__name__)

# A task the server keeps saying it does not know is given up after this many
# answers in a row (with back-off, that is many minutes), so its files get a
# clear outcome instead of waiting forever.
MAX_NOT_FOUND = 8


@dataclass(frozen=True, slots=True)
class PollTiming:
    concurrency: int
    initial_delay: float
    interval: float
    max_interval: float


def next_poll_delay(
    previous: str | None, current: str, remaining: float | None, timing: PollTiming
) -> float:
    """Seconds until the next status request after a successful one (guide 1.2.1.1)."""
    just_started = current == TaskStatus.PROCESSING and previous != TaskStatus.PROCESSING
    if just_started and remaining is not None and remaining > 0:
        return float(min(max(remaining, 1), timing.max_interval))
    return timing.interval


def error_delay(
    errors: int, timing: PollTiming, rand: Callable[[], float] = random.random
) -> float:
    """Seconds until the next try after ``errors`` failed requests in a row."""
    return max(timing.interval, full_jitter(errors, timing.interval, timing.max_interval, rand))


@dataclass
class _Tracked:
    tenant: str
    status: str | None
    errors: int = 0
    not_found: int = 0


class Poller:
    """Accepted task ids in; finished (done or error) task ids out to the exporter."""

    def __init__(
        self,
        journal: Journal,
        clients: Mapping[str, MiaopClient],
        accepted: asyncio.Queue[str],
        finished: asyncio.Queue[str],
        timing: PollTiming,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.journal = journal
        self.clients = clients
        self.accepted = accepted
        self.finished = finished
        self.timing = timing
        self.clock = clock
        self._due: DelayQueue[str] = DelayQueue(clock)
        self._tracked: dict[str, _Tracked] = {}
        self._slots = asyncio.Semaphore(timing.concurrency)

    @property
    def in_flight(self) -> int:
        return len(self._tracked)

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for tracked in self._tracked.values():
            key = tracked.status or "unknown"
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def run(self) -> None:
        now = time.time()
        for task in self.journal.tasks_in_state(TaskState.SUBMITTED):
            wait = max(0.0, (task.next_poll_at or now) - now)
            self._track(task.task_id, task.tenant, task.server_status, wait)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._take_accepted())
            while True:
                task_id = await self._due.get()
                await self._slots.acquire()
                group.create_task(self._poll(task_id))

    def _track(self, task_id: str, tenant: str, status: str | None, delay: float) -> None:
        self._tracked[task_id] = _Tracked(tenant, status)
        self._due.put(task_id, delay)

    async def _take_accepted(self) -> None:
        while True:
            task_id = await self.accepted.get()
            task = self.journal.task(task_id)
            if task is None or task.state is not TaskState.SUBMITTED:
                continue
            self._track(task_id, task.tenant, None, self.timing.initial_delay)

    async def _poll(self, task_id: str) -> None:
        try:
            await self._poll_once(task_id)
        except Exception as exc:
            # A bug met by one task must not stop the scheduler; the task is asked again.
            log.exception("task.poll_crashed", task_id=task_id)
            tracked = self._tracked.get(task_id)
            if tracked is not None:
                self._after_error(task_id, tracked, repr(exc))
        finally:
            self._slots.release()

    async def _poll_once(self, task_id: str) -> None:
        tracked = self._tracked.get(task_id)
        if tracked is None:
            return
        client = self.clients[tracked.tenant]
        try:
            answer = await client.get_task(task_id, retry=SINGLE_ATTEMPT)
        except NotFoundError:
            tracked.not_found += 1
            if tracked.not_found >= MAX_NOT_FOUND:
                self._finish(task_id, TaskState.ERROR, "the server no longer knows this task")
                return
            self._after_error(task_id, tracked, "task not found")
            return
        except MiaopError as exc:
            self._after_error(task_id, tracked, str(exc))
            return
        tracked.errors = tracked.not_found = 0
        status = answer.taskStatus
        if status in (TaskStatus.DONE, TaskStatus.ERROR):
            self.journal.update_poll(
                task_id,
                server_status=status,
                remaining_seconds=answer.sttRemainingTime,
                next_poll_at=time.time(),
                poll_errors=0,
            )
            state = TaskState.DONE if status == TaskStatus.DONE else TaskState.ERROR
            self._finish(task_id, state, None)
            return
        delay = next_poll_delay(tracked.status, status, answer.sttRemainingTime, self.timing)
        if status != tracked.status:
            # Only changes are written: a poll that learns nothing new costs no fsync.
            self.journal.update_poll(
                task_id,
                server_status=status,
                remaining_seconds=answer.sttRemainingTime,
                next_poll_at=time.time() + delay,
                poll_errors=0,
            )
            log.info(
                "task.status",
                task_id=task_id,
                status=status,
                remaining=answer.sttRemainingTime,
                next_poll_in=round(delay, 1),
            )
        tracked.status = status
        self._due.put(task_id, delay)

    def _after_error(self, task_id: str, tracked: _Tracked, reason: str) -> None:
        tracked.errors += 1
        delay = error_delay(tracked.errors, self.timing)
        log.warning(
            "task.poll_failed",
            task_id=task_id,
            errors=tracked.errors,
            retry_in=round(delay, 1),
            reason=reason,
        )
        self._due.put(task_id, delay)

    def _finish(self, task_id: str, state: TaskState, error: str | None) -> None:
        self.journal.set_task_state(task_id, state, error=error)
        self._tracked.pop(task_id, None)
        log.info("task.finished", task_id=task_id, state=str(state))
        self.finished.put_nowait(task_id)
