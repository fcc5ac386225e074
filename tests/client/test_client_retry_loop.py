"""The retry loop on its own: the first attempt runs bare, later ones through tenacity."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from hrec_ingest.miaop import NotFoundError, RetryPolicy, ServerError
from hrec_ingest.miaop.retry import call_with_retry


class Flaky:
    """Fails with the given errors in turn, then answers ``"ok"``."""

    def __init__(self, *errors: Exception, hold: float = 0.0) -> None:
        self.errors = list(errors)
        self.hold = hold
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        await asyncio.sleep(self.hold)
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def no_wait() -> tuple[list[float], Callable[[float], Awaitable[None]]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    return waits, sleep


async def test_a_success_at_once_is_one_call_and_no_wait() -> None:
    op, (waits, sleep) = Flaky(), no_wait()
    assert await call_with_retry(op, RetryPolicy(), endpoint="t", sleep=sleep) == "ok"
    assert (op.calls, waits) == (1, [])


async def test_failures_are_retried_with_the_back_off_of_their_attempt_numbers() -> None:
    op, (waits, sleep) = Flaky(ServerError(503, ""), ServerError(502, "")), no_wait()
    policy = RetryPolicy(attempts=5, base_seconds=1.0, cap_seconds=30.0)
    result = await call_with_retry(op, policy, endpoint="t", rand=lambda: 1.0, sleep=sleep)
    assert result == "ok"
    assert op.calls == 3
    assert waits == [1.0, 2.0]  # attempts 1 and 2, as if tenacity had run all three


async def test_the_last_error_is_raised_when_the_attempts_are_spent() -> None:
    op, (_, sleep) = Flaky(*(ServerError(503, "") for _ in range(5))), no_wait()
    with pytest.raises(ServerError):
        await call_with_retry(op, RetryPolicy(attempts=3), endpoint="t", sleep=sleep)
    assert op.calls == 3


async def test_an_error_not_worth_repeating_is_raised_after_one_call() -> None:
    op, (waits, sleep) = Flaky(NotFoundError(404, "")), no_wait()
    with pytest.raises(NotFoundError):
        await call_with_retry(op, RetryPolicy(), endpoint="t", sleep=sleep)
    assert (op.calls, waits) == (1, [])


async def test_the_first_attempts_time_counts_against_the_total() -> None:
    # One slow failed attempt that uses up the whole budget: no second attempt may start.
    op, (_, sleep) = Flaky(ServerError(503, ""), hold=0.3), no_wait()
    policy = RetryPolicy(attempts=5, max_total_seconds=0.2, base_seconds=0.0)
    with pytest.raises(ServerError):
        await call_with_retry(op, policy, endpoint="t", sleep=sleep)
    assert op.calls == 1
