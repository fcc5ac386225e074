"""Poller: one scheduler over every task in flight, a heap of due times per tenant.

Ten thousand tasks cost ten thousand heap entries, not ten thousand
coroutines. Two ways to learn a status (see :mod:`pollplan` for the rules):

- a GET of the task (guide 2.3), for tasks whose tenant has few due;
- one task-list request (guide 2.4) filtered by update time, when more than
  ``ListPolicy.threshold`` of a tenant's tasks fall due within an interval.
  Tasks in the answer whose status changed are updated from it; the others
  are unchanged and simply rescheduled. A task still gets a GET of its own
  now and then (:func:`backstop_seconds`), and whenever the list is failing,
  so that a list that leaves a task out can delay it but never lose it.

Every request takes a slot (at most POLL_CONCURRENCY in flight) and a token
of :class:`RequestPace`, so the request rate is bounded by the settings
however many tasks wait.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import structlog

from hrec_ingest.journal import Journal, TaskState
from hrec_ingest.journal.store import StatusUpdate
from hrec_ingest.miaop import SINGLE_ATTEMPT, MiaopClient
from hrec_ingest.miaop.errors import MiaopError, NotFoundError, RateLimitedError
from hrec_ingest.miaop.models import FINAL_STATUSES, TaskMetadataResponse, TaskProgress, TaskStatus
from hrec_ingest.pipeline.pacing import RequestPace
from hrec_ingest.pipeline.pollplan import (
    ListCoverage,
    ListPolicy,
    PollTiming,
    backstop_seconds,
    error_delay,
    list_unsupported,
    next_poll_delay,
)
from hrec_ingest.pipeline.schedule import GroupSchedule
from hrec_ingest.pipeline.tasklist import sweep_task_list

__all__ = ["ListPolicy", "PollTiming", "Poller", "error_delay", "next_poll_delay"]

log = structlog.get_logger(__name__)

# A task the server keeps saying it does not know is given up after this many
# answers in a row (with back-off, that is many minutes), so its files get a
# clear outcome instead of waiting forever.
MAX_NOT_FOUND = 8


@dataclass(slots=True)
class _Tracked:
    tenant: str
    status: str | None  # the last status learnt, by a GET or from the list
    scheduled: str | None  # the status the current due time was chosen for
    remaining: float | None
    known_at: float  # wall clock: the status is known as of this moment
    backstop_at: float  # monotonic: a GET of its own by then, even while the list covers it
    errors: int = 0
    not_found: int = 0
    requests: int = 0


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
        *,
        supervisors: Mapping[str, str] | None = None,
        policy: ListPolicy | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.clients = clients
        self.accepted = accepted
        self.finished = finished
        self.timing = timing
        self.clock = clock
        self.wall = wall
        self.policy = policy if policy is not None else ListPolicy()
        self._schedule: GroupSchedule[str] = GroupSchedule(clock)
        self._tracked: dict[str, _Tracked] = {}
        self._per_tenant: Counter[str] = Counter()
        self._slots = asyncio.Semaphore(timing.concurrency)
        self._pace = RequestPace(timing.rate, burst=timing.concurrency, clock=clock)
        supervisors = supervisors or {}
        self._lists = {
            tenant: ListCoverage(self.policy.first_span, supervisors.get(tenant))
            for tenant in clients
        }

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
        """Poll the journal's submitted tasks and every accepted one until cancelled."""
        self._load()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._take_accepted())
            while True:
                tenant = await self._schedule.wait(self._sweeping)
                await self._step(tenant, group)

    def _load(self) -> None:
        """Track every submitted task of the journal, due when the journal says."""
        now, wall = self.clock(), self.wall()
        for task_id, tenant, status, next_poll_at, known_at in self.journal.tasks_to_poll():
            self._track(task_id, tenant, status, known_at, math.inf)
            self._schedule.put(tenant, task_id, max(0.0, (next_poll_at or wall) - wall))
        for tracked in self._tracked.values():
            # Spread the first backstop GETs, so a restart does not ask about every task at once.
            tracked.backstop_at = now + random.random() * self._backstop(tracked.tenant)

    def _track(
        self, task_id: str, tenant: str, status: str | None, known_at: float, backstop_at: float
    ) -> None:
        if task_id not in self._tracked:
            self._per_tenant[tenant] += 1
        self._tracked[task_id] = _Tracked(tenant, status, status, None, known_at, backstop_at)

    def _backstop(self, tenant: str) -> float:
        return backstop_seconds(self._per_tenant[tenant], self.timing, self.policy)

    def _sweeping(self) -> frozenset[str]:
        return frozenset(t for t, c in self._lists.items() if c.sweeping)

    async def _take_accepted(self) -> None:
        while True:
            task_id = await self.accepted.get()
            task = self.journal.task(task_id)
            if task is None or task.state is not TaskState.SUBMITTED:
                continue
            backstop_at = self.clock() + self._backstop(task.tenant)
            self._track(task_id, task.tenant, None, task.updated_at, backstop_at)
            self._schedule.put(task.tenant, task_id, self.timing.initial_delay)

    async def _step(self, tenant: str, group: asyncio.TaskGroup) -> None:
        """One decision for a tenant with a task due: a list request, no request, or a GET."""
        coverage = self._lists.get(tenant)  # None for a tenant no longer configured
        now = self.clock()
        if coverage is not None and self._list_pays(tenant, coverage, now):
            coverage.sweeping = True
            coverage.last_try = now
            group.create_task(self._sweep(tenant, coverage))
            return
        task_id = self._schedule.pop(tenant)
        tracked = self._tracked.get(task_id)
        if tracked is None:
            return  # finished meanwhile; this was its stale due time
        if coverage is not None and self._kept_current(tracked, coverage, now):
            # The list's news stands in for this poll: no request.
            current = tracked.status or TaskStatus.PENDING
            delay = next_poll_delay(tracked.scheduled, current, tracked.remaining, self.timing)
            tracked.scheduled = tracked.status
            self._schedule.put(tenant, task_id, delay)
            return
        await self._pace.acquire()
        await self._slots.acquire()
        group.create_task(self._poll(task_id))

    def _kept_current(self, tracked: _Tracked, coverage: ListCoverage, now: float) -> bool:
        return (
            coverage.fresh(now, self.timing.interval)
            and coverage.covers(tracked.known_at, self.policy.skew_margin)
            and now < tracked.backstop_at
        )

    def _list_pays(self, tenant: str, coverage: ListCoverage, now: float) -> bool:
        if not coverage.may_sweep(now, self.timing.interval):
            return False
        limit = self.policy.threshold + 1
        due = self._schedule.count_due(tenant, self.timing.interval, limit)
        return due > self.policy.threshold

    @asynccontextmanager
    async def _list_permit(self) -> AsyncIterator[None]:
        await self._pace.acquire()
        async with self._slots:
            yield

    async def _sweep(self, tenant: str, coverage: ListCoverage) -> None:
        started, until = self.clock(), self.wall()
        oldest = until
        if coverage.covered_to is None:
            # The first window reaches back to the oldest status we hold, so it covers every task.
            known = (t.known_at for t in self._tracked.values() if t.tenant == tenant)
            oldest = min(known, default=until)
        since = coverage.since(oldest, self.policy.skew_margin)
        try:
            result = await sweep_task_list(
                self.clients[tenant],
                supervisor=coverage.supervisor,
                since=since,
                until=until,
                span=coverage.span,
                policy=self.policy,
                permit=self._list_permit,
                on_tasks=lambda answer: self._apply(tenant, answer),
            )
        except MiaopError as exc:
            self._list_failed(tenant, coverage, exc)
        except Exception:
            # A bug in the list path must not stop polling: single GETs take over.
            log.exception("poller.list_crashed", tenant=tenant)
            coverage.failed(self.clock(), error_delay(coverage.failures + 1, self.timing))
        else:
            coverage.succeeded(since, until, started, result.span)
            log.debug(
                "poller.list_read",
                tenant=tenant,
                requests=result.requests,
                tasks=result.tasks,
                window_seconds=round(until - since),
                seconds=round(self.clock() - started, 3),
            )
        finally:
            coverage.sweeping = False
            self._schedule.poke()

    def _list_failed(self, tenant: str, coverage: ListCoverage, exc: MiaopError) -> None:
        now = self.clock()
        if list_unsupported(exc):
            coverage.failed(now, self.policy.unsupported_pause)
            log.warning(
                "poller.list_unsupported",
                tenant=tenant,
                reason=str(exc),
                retry_in=round(self.policy.unsupported_pause),
                note="polling task by task meanwhile",
            )
            return
        if isinstance(exc, RateLimitedError) and exc.retry_after:
            self._pace.hold(exc.retry_after)
        delay = error_delay(coverage.failures + 1, self.timing)
        coverage.failed(now, delay)
        log.warning("poller.list_failed", tenant=tenant, reason=str(exc), retry_in=round(delay, 1))

    def _apply(self, tenant: str, answer: Sequence[TaskProgress]) -> None:
        """Record the statuses one list answer shows changed; finish the tasks that ended.

        Written answer by answer, in one transaction each, so that a long
        catch-up holds one answer at a time and costs one fsync per answer.
        """
        wall = self.wall()
        updates: list[StatusUpdate] = []
        for entry in answer:
            tracked = self._tracked.get(entry.taskId)
            if tracked is None or tracked.tenant != tenant or entry.taskStatus == tracked.status:
                continue
            final = _final_state(entry.taskStatus)
            delay = next_poll_delay(
                tracked.scheduled, entry.taskStatus, entry.sttRemainingTime, self.timing
            )
            updates.append(
                StatusUpdate(
                    entry.taskId, entry.taskStatus, entry.sttRemainingTime, wall + delay, final
                )
            )
            if final is None:
                self._log_status(entry.taskId, entry, delay, via="list")
            tracked.status, tracked.remaining = entry.taskStatus, entry.sttRemainingTime
        self.journal.record_statuses(updates)
        for update in updates:
            if update.state is not None:
                self._finished(update.task_id, update.state)

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
        tracked.requests += 1
        try:
            answer = await client.get_task(task_id, retry=SINGLE_ATTEMPT)
        except NotFoundError:
            tracked.not_found += 1
            if tracked.not_found >= MAX_NOT_FOUND:
                self._finish_lost(task_id)
                return
            self._after_error(task_id, tracked, "task not found")
            return
        except MiaopError as exc:
            if isinstance(exc, RateLimitedError) and exc.retry_after:
                self._pace.hold(exc.retry_after)
            self._after_error(task_id, tracked, str(exc))
            return
        if self._tracked.get(task_id) is not tracked:
            return  # the list finished it while this answer was on its way
        tracked.errors = tracked.not_found = 0
        tracked.known_at = self.wall()
        tracked.backstop_at = self.clock() + self._backstop(tracked.tenant)
        status = answer.taskStatus
        final = _final_state(status)
        delay = next_poll_delay(tracked.scheduled, status, answer.sttRemainingTime, self.timing)
        if final is not None or status != tracked.status:
            # Only changes are written: a poll that learns nothing new costs no fsync.
            self.journal.record_statuses(
                [StatusUpdate(task_id, status, answer.sttRemainingTime, self.wall() + delay, final)]
            )
        if final is not None:
            self._finished(task_id, final)
            return
        if status != tracked.status:
            self._log_status(task_id, answer, delay, via="task")
        tracked.status = tracked.scheduled = status
        tracked.remaining = answer.sttRemainingTime
        self._schedule.put(tracked.tenant, task_id, delay)

    def _log_status(
        self,
        task_id: str,
        answer: TaskProgress | TaskMetadataResponse,
        delay: float,
        *,
        via: str,
    ) -> None:
        log.info(
            "task.status",
            task_id=task_id,
            status=answer.taskStatus,
            remaining=answer.sttRemainingTime,
            next_poll_in=round(delay, 1),
            via=via,
        )

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
        self._schedule.put(tracked.tenant, task_id, delay)

    def _finish_lost(self, task_id: str) -> None:
        self.journal.set_task_state(
            task_id, TaskState.ERROR, error="the server no longer knows this task"
        )
        self._finished(task_id, TaskState.ERROR)

    def _finished(self, task_id: str, state: TaskState) -> None:
        tracked = self._tracked.pop(task_id, None)
        if tracked is None:
            return
        self._per_tenant[tracked.tenant] -= 1
        log.info(
            "task.finished", task_id=task_id, state=str(state), status_requests=tracked.requests
        )
        self.finished.put_nowait(task_id)


def _final_state(status: str) -> TaskState | None:
    if status not in FINAL_STATUSES:
        return None
    return TaskState.DONE if status == TaskStatus.DONE else TaskState.ERROR
