"""The poller's decisions, without I/O: when to ask again, and when one list beats many GETs.

Single polling follows the guide's section 1.2.1: the first request after
POLL_INITIAL_DELAY_SECONDS, then every POLL_INTERVAL_SECONDS, except that a
task that has just entered ``sttProcessing`` is next asked after its
``sttRemainingTime``. When many tasks of one tenant fall due, one task-list
request (guide 2.4) filtered by update time tells which of them changed;
:class:`ListCoverage` keeps what those requests have proved.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from hrec_ingest.miaop.backoff import full_jitter
from hrec_ingest.miaop.errors import HttpStatusError, MiaopError, UnexpectedResponseError
from hrec_ingest.miaop.models import TaskStatus

# Answers that say the server has no usable task list, as opposed to one that failed this time.
_UNSUPPORTED_STATUSES = frozenset({400, 404, 405, 501})


@dataclass(frozen=True, slots=True)
class PollTiming:
    """POLL_* settings. ``max_rate`` (status requests a second) defaults to ``concurrency``."""

    concurrency: int
    initial_delay: float
    interval: float
    max_interval: float
    max_rate: float | None = None

    @property
    def rate(self) -> float:
        return self.max_rate if self.max_rate is not None else float(self.concurrency)


@dataclass(frozen=True, slots=True)
class ListPolicy:
    """When and how the poller reads the task list instead of asking task by task.

    ``threshold``: more of a tenant's tasks due within one interval than this,
    and one list request replaces their GETs. ``skew_margin``: seconds each
    window reaches back before the last one ended, for clock skew between
    us and the server and for updates that become visible late.
    ``split_at``: an answer this long may have been cut short by the server
    (the guide documents no paging), so its window is asked again in halves;
    it also keeps each answer small. ``first_span``: length of the first
    window when catching up. ``backstop_share``: share of the request rate
    left to single GETs of tasks the list keeps current, so that a task the
    list never shows is still asked about.
    """

    threshold: int = 4
    skew_margin: float = 30.0
    split_at: int = 500
    first_span: float = 300.0
    unsupported_pause: float = 3600.0
    backstop_share: float = 0.5


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


def backstop_seconds(tasks: int, timing: PollTiming, policy: ListPolicy) -> float:
    """How long a task kept current by the list may go without a GET of its own.

    POLL_MAX_INTERVAL_SECONDS while that fits in the backstop's share of the
    request rate; beyond that the interval stretches, so that the rate stays
    bounded however many tasks wait.
    """
    return max(timing.max_interval, tasks / (timing.rate * policy.backstop_share))


def list_unsupported(exc: MiaopError) -> bool:
    """Whether a failed list request means "no usable list here" rather than "not now"."""
    if isinstance(exc, UnexpectedResponseError):
        return True
    return isinstance(exc, HttpStatusError) and exc.status in _UNSUPPORTED_STATUSES


def next_window(start: float, until: float, span: float) -> tuple[float, float | None]:
    """The window of update times to ask for next: ``[start, end)``, or open-ended at the last.

    The filter counts whole seconds, so ends fall on whole seconds. The last
    window has no upper bound: whatever the server updated up to its own now
    is included, whatever the difference between its clock and ours.
    """
    end = math.floor(start) + max(1, math.ceil(span))
    return (start, None) if end >= until else (start, float(end))


def adapt_span(width: float, entries: int, policy: ListPolicy) -> tuple[float, bool]:
    """(span of the next window, whether to ask this window again in halves).

    Like TCP's slow start: a short answer doubles the span, a long one halves
    it and repeats the window, down to one second.
    """
    if entries >= policy.split_at and width > 1:
        return max(1.0, math.floor(width / 2)), True
    if entries < policy.split_at // 4:
        return width * 2, False
    return width, False


@dataclass(slots=True)
class ListCoverage:
    """What one tenant's list requests have proved; times in seconds.

    Wall-clock (``time.time``) for what is compared with the server's update
    times, the monotonic clock for our own pacing. Windows are chained (each
    starts ``skew_margin`` before the previous one ended), so coverage is one
    interval: every change from ``covered_from`` to ``covered_to`` was seen.
    """

    span: float
    supervisor: str | None = None
    covered_from: float | None = None
    covered_to: float | None = None
    last_ok: float | None = None
    last_try: float | None = None
    retry_at: float = 0.0
    failures: int = 0
    sweeping: bool = False

    def fresh(self, now: float, interval: float) -> bool:
        """Whether a list request succeeded recently enough to stand in for polls."""
        return self.last_ok is not None and now - self.last_ok <= 2 * interval + 1

    def covers(self, known_at: float, margin: float) -> bool:
        """Whether every change of a task whose status was known at ``known_at`` is seen."""
        return self.covered_from is not None and known_at - margin >= self.covered_from

    def may_sweep(self, now: float, interval: float) -> bool:
        """Whether a list request may start now: none running, none for an interval."""
        if self.sweeping or now < self.retry_at:
            return False
        return self.last_try is None or now - self.last_try >= interval

    def since(self, oldest_known: float, margin: float) -> float:
        """Where the next window starts: the end of coverage, else the oldest task's status."""
        end = self.covered_to if self.covered_to is not None else oldest_known
        return end - margin

    def succeeded(self, since: float, until: float, started: float, span: float) -> None:
        if self.covered_from is None:
            self.covered_from = since
        self.covered_to = until
        self.last_ok = started
        self.span = span
        self.failures = 0

    def failed(self, now: float, delay: float) -> None:
        self.failures += 1
        self.retry_at = now + delay
