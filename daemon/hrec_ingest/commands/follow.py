"""Waiting for one task to finish, on the daemon's polling schedule (guide 1.2.1).

First status request after POLL_INITIAL_DELAY_SECONDS, then every
POLL_INTERVAL_SECONDS, except that a task that has just entered
``sttProcessing`` is next asked after its ``sttRemainingTime`` (at most
POLL_MAX_INTERVAL_SECONDS). A request that fails for a reason that may pass
(the server unreachable or unwell) is tried again with back-off, and the wait
gives up only when every request has failed for HTTP_RETRY_MAX_SECONDS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hrec_ingest.config import Settings
from hrec_ingest.miaop import SINGLE_ATTEMPT, MiaopClient
from hrec_ingest.miaop.errors import MiaopError, NotFoundError
from hrec_ingest.miaop.models import FINAL_STATUSES, TaskMetadataResponse
from hrec_ingest.pipeline.pollplan import PollTiming, error_delay, next_poll_delay

# Right after a submission, a server may not list the task yet: this many 404s
# in a row are waited out before the task counts as unknown.
MAX_NOT_FOUND = 3


def poll_timing(settings: Settings) -> PollTiming:
    """The daemon's polling schedule from the settings (one request at a time)."""
    return PollTiming(
        concurrency=1,
        initial_delay=settings.poll_initial_delay_seconds,
        interval=settings.poll_interval_seconds,
        max_interval=settings.poll_max_interval_seconds,
    )


async def wait_until_finished(
    client: MiaopClient,
    task_id: str,
    timing: PollTiming,
    *,
    give_up_after: float,
    on_status: Callable[[TaskMetadataResponse], None],
    on_trouble: Callable[[str, float], None],
    first: TaskMetadataResponse | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> TaskMetadataResponse:
    """Poll ``task_id`` until its status is ``sttDone`` or ``error``, and return that answer.

    ``on_status`` gets every answer, ``on_trouble(reason, retry_in)`` every
    failed request that will be retried. ``first``, an answer the caller has
    already, replaces the initial delay. Raises the last MiaopError when a
    request fails for good (a 4xx, or HTTP_RETRY_MAX_SECONDS of failures) and
    NotFoundError when the server keeps saying it has no such task.
    """
    previous: str | None = None
    if first is not None:
        if first.taskStatus in FINAL_STATUSES:
            return first
        previous = first.taskStatus
        delay = next_poll_delay(None, first.taskStatus, first.sttRemainingTime, timing)
    else:
        delay = timing.initial_delay
    errors = not_found = 0
    failing_since: float | None = None
    while True:
        await asyncio.sleep(delay)
        try:
            answer = await client.get_task(task_id, retry=SINGLE_ATTEMPT)
        except MiaopError as exc:
            if isinstance(exc, NotFoundError):
                not_found += 1
                if not_found >= MAX_NOT_FOUND:
                    raise
            elif not exc.retryable:
                raise
            now = clock()
            failing_since = now if failing_since is None else failing_since
            if now - failing_since >= give_up_after:
                raise
            errors += 1
            delay = error_delay(errors, timing)
            on_trouble(str(exc), delay)
            continue
        errors = not_found = 0
        failing_since = None
        on_status(answer)
        if answer.taskStatus in FINAL_STATUSES:
            return answer
        delay = next_poll_delay(previous, answer.taskStatus, answer.sttRemainingTime, timing)
        previous = answer.taskStatus
