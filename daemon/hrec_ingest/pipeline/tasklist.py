"""One sweep of a tenant's task list: every task updated since a moment, window by window.

The guide's list (section 2.4) has no paging, so long stretches of time are
asked in windows whose span adapts to how many tasks each answer holds; an
answer of ``split_at`` tasks or more is asked again in halves, in case the
server cut it short. Each window's tasks are handed on as soon as they
arrive, so memory holds one answer at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from hrec_ingest.miaop import SINGLE_ATTEMPT, MiaopClient
from hrec_ingest.miaop.filters import TaskListFilter
from hrec_ingest.miaop.models import TaskProgress
from hrec_ingest.pipeline.pollplan import ListPolicy, adapt_span, next_window


@dataclass(frozen=True, slots=True)
class SweepResult:
    requests: int
    tasks: int
    span: float


def _moment(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def sweep_task_list(
    client: MiaopClient,
    *,
    supervisor: str | None,
    since: float,
    until: float,
    span: float,
    policy: ListPolicy,
    permit: Callable[[], AbstractAsyncContextManager[None]],
    on_tasks: Callable[[list[TaskProgress]], None],
) -> SweepResult:
    """Ask for every task of ``client``'s tenant updated from ``since`` on (epoch seconds).

    ``until`` is our clock's now: windows before it are closed, the last one
    is open. ``permit`` is entered around each request (the poller's pace and
    concurrency). Any request's failure ends the sweep with its MiaopError;
    tasks already handed to ``on_tasks`` stay handed.
    """
    requests = tasks = 0
    start = since
    while True:
        window_start, window_end = next_window(start, until, span)
        spec = TaskListFilter(
            updated_since=_moment(window_start),
            updated_before=None if window_end is None else _moment(window_end),
            tenant=client.tenant,
            supervisor_email=supervisor,
        )
        async with permit():
            answer = await client.list_task_progress(spec, retry=SINGLE_ATTEMPT)
        requests += 1
        tasks += len(answer)
        on_tasks(answer)
        width = (until if window_end is None else window_end) - window_start
        span, again = adapt_span(width, len(answer), policy)
        if again:
            continue
        if window_end is None:
            return SweepResult(requests, tasks, span)
        start = window_end
