"""The poller's pure parts: list windows, coverage, back-stop, pace and the due-count."""

from __future__ import annotations

import heapq
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hrec_ingest.miaop.errors import (
    ApiError,
    AuthenticationError,
    MiaopError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
)
from hrec_ingest.pipeline.pacing import RequestPace
from hrec_ingest.pipeline.pollplan import (
    ListCoverage,
    ListPolicy,
    PollTiming,
    adapt_span,
    backstop_seconds,
    list_unsupported,
    next_window,
)
from hrec_ingest.pipeline.schedule import GroupSchedule, count_due

TIMING = PollTiming(concurrency=16, initial_delay=5, interval=10, max_interval=300)
POLICY = ListPolicy()


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# --- windows of the task list -----------------------------------------------------------------


def test_a_window_that_reaches_now_is_left_open() -> None:
    assert next_window(1000.4, until=1050.0, span=300) == (1000.4, None)
    assert next_window(1000.4, until=2000.0, span=300) == (1000.4, 1300.0)


@given(
    st.floats(min_value=1e9, max_value=2e9),
    st.floats(min_value=1, max_value=1e4),
    st.floats(min_value=0.01, max_value=1e4),
)
def test_windows_chain_without_gaps_and_end_open(since: float, length: float, span: float) -> None:
    until = since + length
    start, steps = since, 0
    while True:
        window_start, window_end = next_window(start, until, span)
        assert window_start == start
        if window_end is None:
            break
        assert window_end > window_start and window_end == int(window_end)
        start, steps = window_end, steps + 1
        assert steps < 100_000
    assert start >= since


def test_span_doubles_on_short_answers_and_halves_on_long_ones() -> None:
    assert adapt_span(60, 0, POLICY) == (120, False)
    assert adapt_span(60, POLICY.split_at // 2, POLICY) == (60, False)
    assert adapt_span(60, POLICY.split_at, POLICY) == (30, True)
    # A one-second window cannot be split: its answer is taken as it is.
    assert adapt_span(1, 10 * POLICY.split_at, POLICY) == (1, False)


# --- what the list has proved -----------------------------------------------------------------


def test_coverage_starts_at_the_oldest_status_and_then_chains() -> None:
    coverage = ListCoverage(span=300)
    assert coverage.since(oldest_known=5000, margin=30) == 4970
    assert not coverage.covers(5000, margin=30)
    coverage.succeeded(since=4970, until=6000, started=100, span=600)
    assert coverage.covers(5000, margin=30)
    assert coverage.covers(7000, margin=30), "a task newer than the coverage is current too"
    assert not coverage.covers(4999, margin=30)
    assert coverage.since(oldest_known=1, margin=30) == 5970
    coverage.succeeded(since=5970, until=6010, started=110, span=600)
    assert coverage.covered_from == 4970


def test_coverage_goes_stale_without_list_requests() -> None:
    coverage = ListCoverage(span=300)
    assert not coverage.fresh(100, interval=10)
    coverage.succeeded(since=0, until=1, started=100, span=300)
    assert coverage.fresh(121, interval=10)
    assert not coverage.fresh(122, interval=10)


def test_list_requests_wait_an_interval_and_back_off_after_failures() -> None:
    coverage = ListCoverage(span=300)
    assert coverage.may_sweep(100, interval=10)
    coverage.last_try = 100
    assert not coverage.may_sweep(105, interval=10)
    assert coverage.may_sweep(110, interval=10)
    coverage.failed(110, delay=60)
    assert not coverage.may_sweep(150, interval=10)
    assert coverage.may_sweep(170, interval=10)
    coverage.sweeping = True
    assert not coverage.may_sweep(1000, interval=10)


@pytest.mark.parametrize(
    ("error", "unsupported"),
    [
        (NotFoundError(404, "Cannot GET /api/tasks"), True),
        (ApiError(400, "unknown filter"), True),
        (ServerError(501, "not implemented"), True),
        (UnexpectedResponseError(200, b"<html>", "expected a JSON array"), True),
        (ServerError(503, "busy"), False),
        (RateLimitedError(429, "slow down", retry_after=3), False),
        (TransportError("connection reset"), False),
        (AuthenticationError(401, "no", hint="check the user"), False),
    ],
)
def test_which_failures_mean_there_is_no_usable_list(error: MiaopError, unsupported: bool) -> None:
    assert list_unsupported(error) is unsupported


@given(st.integers(min_value=0, max_value=1_000_000), st.floats(min_value=0.1, max_value=1000))
def test_backstop_requests_stay_within_their_share_of_the_rate(tasks: int, rate: float) -> None:
    timing = PollTiming(16, 5, 10, 300, max_rate=rate)
    seconds = backstop_seconds(tasks, timing, POLICY)
    assert seconds >= timing.max_interval
    assert tasks / seconds <= rate * POLICY.backstop_share * (1 + 1e-9)


# --- pace and schedule ------------------------------------------------------------------------


def test_pace_allows_a_burst_then_spaces_requests() -> None:
    clock = FakeClock(0.0)
    pace = RequestPace(rate=10, burst=3, clock=clock)
    assert [round(pace.reserve(), 3) for _ in range(5)] == [0.0, 0.0, 0.0, 0.1, 0.2]
    clock.now = 10.0  # idle for long: the burst is back, not more
    assert [round(pace.reserve(), 3) for _ in range(4)] == [0.0, 0.0, 0.0, 0.1]


@given(st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=200))
def test_pace_never_exceeds_its_rate(gaps: list[float]) -> None:
    clock = FakeClock(0.0)
    rate, burst = 20.0, 4
    pace = RequestPace(rate=rate, burst=burst, clock=clock)
    starts = []
    for gap in gaps:
        clock.now += gap
        starts.append(clock.now + pace.reserve())
    # In any stretch of time, at most burst + rate * length requests start.
    for i, j in itertools.combinations(range(len(starts)), 2):
        assert j - i + 1 <= burst + rate * (starts[j] - starts[i]) + 1e-6


def test_pace_holds_for_retry_after() -> None:
    clock = FakeClock(0.0)
    pace = RequestPace(rate=100, burst=5, clock=clock)
    pace.hold(3.0)
    assert pace.reserve() == pytest.approx(3.0)


@given(
    st.lists(st.floats(min_value=0, max_value=100), max_size=300),
    st.floats(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=20),
)
def test_count_due_agrees_with_counting_everything(
    due_times: list[float], horizon: float, limit: int
) -> None:
    heap: list[tuple[float, int, str]] = []
    for i, due in enumerate(due_times):
        heapq.heappush(heap, (due, i, f"t{i}"))
    expected = min(limit, sum(1 for due in due_times if due <= horizon))
    assert count_due(heap, horizon, limit) == expected


async def test_schedule_names_the_group_due_first_and_skips_busy_groups() -> None:
    clock = FakeClock(100.0)
    schedule: GroupSchedule[str] = GroupSchedule(clock)
    schedule.put("a", "a1", 5)
    schedule.put("b", "b1", 1)
    assert schedule.earliest() == (101.0, "b")
    assert schedule.earliest(skip={"b"}) == (105.0, "a")
    clock.now = 106.0
    assert await schedule.wait(lambda: {"b"}) == "a"
    assert schedule.count_due("a", horizon=0, limit=10) == 1
    assert schedule.pop("a") == "a1"
    assert len(schedule) == 1
