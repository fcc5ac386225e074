"""When to try a request again, and how long to wait: the client's one retry loop."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from hrec_ingest.miaop.backoff import full_jitter
from hrec_ingest.miaop.errors import MiaopError

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one call tries: ``attempts`` at most, none started after ``max_total_seconds``.

    The delay before retry n is ``full_jitter(n, base_seconds, cap_seconds)``,
    raised to the server's ``Retry-After`` when it sent one. The total bounds
    when a new attempt may start; an attempt in flight is bounded by its own
    timeouts (an upload of a large file may rightly take longer).
    """

    attempts: int = 6
    max_total_seconds: float = 300.0
    base_seconds: float = 0.5
    cap_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.max_total_seconds <= 0 or self.base_seconds < 0 or self.cap_seconds < 0:
            raise ValueError("max_total_seconds must be positive, base and cap not negative")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    A date in the past gives 0; a value that is neither gives None (ignored
    rather than failing the request over a header).
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is not a delay
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # RFC 9110 dates are GMT
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def should_retry(exc: BaseException, *, idempotent: bool) -> bool:
    """The retry decision, from the error alone.

    A request that is not idempotent (a POST that would create a second task)
    is resent only when the error proves the server did not act on it.
    """
    if not isinstance(exc, MiaopError) or not exc.retryable:
        return False
    return idempotent or exc.request_rejected


def retry_delay(state: RetryCallState, policy: RetryPolicy, rand: Callable[[], float]) -> float:
    """Full-jitter back-off, never earlier than the last error's Retry-After."""
    delay = full_jitter(state.attempt_number, policy.base_seconds, policy.cap_seconds, rand)
    exc = state.outcome.exception() if state.outcome is not None else None
    floor = getattr(exc, "retry_after", None)
    if isinstance(floor, int | float):
        delay = max(delay, float(floor))
    return delay


async def call_with_retry(
    op: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    endpoint: str,
    idempotent: bool = True,
    rand: Callable[[], float] = random.random,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """Run ``op`` until it succeeds, fails for good or the policy is spent; raise the last error.

    A Retry-After longer than the time the policy has left ends the call at
    once: waiting for it would break the bound the caller asked for.
    """
    # The first attempt runs bare: nearly every call succeeds at once, and building the
    # retry machinery for each one cost about 3% of the daemon's CPU. Tenacity takes
    # over only after a failure worth another attempt, with that failure as its first.
    started = time.monotonic()
    try:
        return await op()
    except Exception as exc:
        if policy.attempts < 2 or not should_retry(exc, idempotent=idempotent):
            raise
        first_failure: Exception | None = exc

    async def replay_then_op() -> T:
        nonlocal first_failure
        if first_failure is not None:
            failure, first_failure = first_failure, None
            raise failure
        return await op()

    budget = policy.max_total_seconds - (time.monotonic() - started)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        log.warning(
            "miaop.retry",
            endpoint=endpoint,
            attempt=state.attempt_number,
            delay=round(state.upcoming_sleep, 3),
            error=type(exc).__name__,
            status=getattr(exc, "status", None),
            detail=str(exc),
        )

    def give_up(state: RetryCallState) -> T:
        assert state.outcome is not None
        exc = state.outcome.exception()
        if exc is not None and should_retry(exc, idempotent=idempotent):
            log.warning(
                "miaop.retry_exhausted",
                endpoint=endpoint,
                attempts=state.attempt_number,
                elapsed=round(time.monotonic() - started, 3),
                error=type(exc).__name__,
                detail=str(exc),
            )
        return state.outcome.result()  # type: ignore[no-any-return]

    retrying = AsyncRetrying(
        stop=stop_after_attempt(policy.attempts) | stop_before_delay(budget),
        wait=lambda state: retry_delay(state, policy, rand),
        retry=retry_if_exception(lambda exc: should_retry(exc, idempotent=idempotent)),
        before_sleep=before_sleep,
        retry_error_callback=give_up,
        sleep=sleep,
    )
    return await retrying(replay_then_op)
