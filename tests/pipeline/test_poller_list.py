"""The poller against the simulator over a real socket: task list when many wait, GETs otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from hrec_ingest.journal import Journal, TaskState
from hrec_ingest.miaop import MiaopClient, RetryPolicy, TokenManager, make_session, make_ssl_context
from hrec_ingest.pipeline.poller import ListPolicy, Poller, PollTiming
from hrec_ingest.simulator import SimulatorOptions, SimulatorState
from samples.inflight import (
    SUPERVISOR,
    SeededTask,
    bulk_seed_journal,
    seed_server_task,
)
from samples.lying_server import Answer, json_answer, lying_simulator

pytestmark = pytest.mark.timeout(60)

PASSWORD = "poller-Pw-5512"
OPTIONS = SimulatorOptions(users={"demo": {"user": PASSWORD}}, seed=3)


@dataclass
class Run:
    poller: Poller
    finished: asyncio.Queue[str]
    state: SimulatorState

    async def until_finished(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.finished.qsize() < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.finished.qsize()} of {count} tasks finished after {timeout} s;"
                    f" still polled: {self.poller.status_counts()}"
                )
            await asyncio.sleep(0.02)

    def requests(self, route: str) -> int:
        return self.state.count(route)

    async def until(self, condition: Callable[[], bool], what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            await asyncio.sleep(0.02)


@asynccontextmanager
async def polling(
    url: str, state: SimulatorState, journal: Journal, timing: PollTiming, policy: ListPolicy
) -> AsyncIterator[Run]:
    context = make_ssl_context(True, None, None, None)
    async with make_session(context, pool_limit=timing.concurrency + 2, timeout_seconds=10) as s:
        tokens = TokenManager(s, url, "demo", "user", PASSWORD)
        client = MiaopClient(s, url, tokens, retry=RetryPolicy(attempts=1))
        finished: asyncio.Queue[str] = asyncio.Queue()
        poller = Poller(
            journal,
            {"demo": client},
            asyncio.Queue(),
            finished,
            timing,
            supervisors={"demo": SUPERVISOR},
            policy=policy,
        )
        running = asyncio.create_task(poller.run())
        try:
            yield Run(poller, finished, state)
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await tokens.close()


def seed(
    state: SimulatorState, journal: Journal, count: int, pending: float, processing: float
) -> list[SeededTask]:
    tasks = [
        seed_server_task(state, pending_seconds=pending, processing_seconds=processing)
        for _ in range(count)
    ]
    bulk_seed_journal(journal.path, tasks, known_at=time.time(), next_poll_at=time.time())
    return tasks


def all_in_state(journal: Journal, tasks: list[SeededTask], state: TaskState) -> bool:
    return all((row := journal.task(t.task_id)) is not None and row.state is state for t in tasks)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    opened = Journal.open(tmp_path)
    yield opened
    opened.close()


# Fast polling; sttRemainingTime (whole seconds in the simulator) is waited at most 0.5 s.
FAST = PollTiming(concurrency=8, initial_delay=0.1, interval=0.25, max_interval=0.5, max_rate=400)


async def test_many_tasks_are_followed_through_the_list(journal: Journal) -> None:
    async with lying_simulator(OPTIONS) as liar:
        state = liar.sim.state
        tasks = seed(state, journal, 200, pending=0.3, processing=1.0)
        # A back-stop far away, so that the list's work shows alone.
        timing = PollTiming(8, 0.1, 0.25, max_interval=10.0, max_rate=400)
        async with polling(liar.sim.url, state, journal, timing, ListPolicy()) as run:
            await run.until_finished(200, timeout=20)
            per_task = (run.requests("task") + run.requests("tasks")) / len(tasks)
    assert all_in_state(journal, tasks, TaskState.DONE)
    # Asked one by one every 0.25 s, each task would cost about 1.3 s / 0.25 s = 5 requests.
    assert per_task < 1.0, f"{per_task:.2f} status requests per task"
    assert run.requests("tasks") >= 3
    assert run.poller.in_flight == 0


async def test_a_task_the_list_leaves_out_is_still_finished(journal: Journal) -> None:
    hidden: set[str] = set()

    def leave_out(answer: Answer) -> web.StreamResponse | None:
        return json_answer([t for t in answer.json() if t["taskId"] not in hidden])

    async with lying_simulator(OPTIONS, {"tasks": leave_out}) as liar:
        state = liar.sim.state
        tasks = seed(state, journal, 30, pending=0.2, processing=0.5)
        hidden.add(tasks[7].task_id)
        timing = PollTiming(8, 0.1, 0.25, max_interval=0.5, max_rate=400)
        async with polling(liar.sim.url, state, journal, timing, ListPolicy()) as run:
            await run.until_finished(30, timeout=15)
    assert all_in_state(journal, tasks, TaskState.DONE)
    assert liar.lies["tasks"] >= 1


async def test_a_task_updated_before_the_window_is_still_finished(journal: Journal) -> None:
    async with lying_simulator(OPTIONS) as liar:
        state = liar.sim.state
        tasks = seed(state, journal, 30, pending=0.2, processing=0.5)
        # The server's clock an hour behind for this task: its updates fall before every window.
        state.tasks[tasks[3].task_id].created_epoch -= 3600
        timing = PollTiming(8, 0.1, 0.25, max_interval=0.5, max_rate=400)
        async with polling(liar.sim.url, state, journal, timing, ListPolicy()) as run:
            await run.until_finished(30, timeout=15)
    assert all_in_state(journal, tasks, TaskState.DONE)


async def test_without_a_task_list_tasks_are_polled_one_by_one(journal: Journal) -> None:
    def not_found(answer: Answer) -> web.StreamResponse | None:
        return json_answer({"message": "Cannot GET /api/tasks"}, status=404)

    async with lying_simulator(OPTIONS, {"tasks": not_found}) as liar:
        state = liar.sim.state
        tasks = seed(state, journal, 20, pending=0.2, processing=0.3)
        async with polling(liar.sim.url, state, journal, FAST, ListPolicy()) as run:
            await run.until_finished(20, timeout=15)
    assert all_in_state(journal, tasks, TaskState.DONE)
    assert run.requests("tasks") == 1, "an unsupported list is not asked again for an hour"
    assert run.requests("task") >= 20


async def test_a_few_tasks_are_polled_one_by_one(journal: Journal) -> None:
    async with lying_simulator(OPTIONS) as liar:
        state = liar.sim.state
        tasks = seed(state, journal, 3, pending=0.2, processing=0.3)
        async with polling(liar.sim.url, state, journal, FAST, ListPolicy()) as run:
            await run.until_finished(3, timeout=10)
    assert all_in_state(journal, tasks, TaskState.DONE)
    assert run.requests("tasks") == 0


async def test_a_restart_catches_up_in_windows_of_bounded_size(journal: Journal) -> None:
    sizes: list[int] = []

    def measure(answer: Answer) -> web.StreamResponse | None:
        sizes.append(len(answer.json()))
        return None

    async with lying_simulator(OPTIONS, {"tasks": measure}) as liar:
        state = liar.sim.state
        # Done on the server while the daemon was away; the journal's news is over an hour old.
        tasks = [
            seed_server_task(
                state, pending_seconds=0.1, processing_seconds=0.1, age_seconds=3600 - 60 * i
            )
            for i in range(40)
        ]
        bulk_seed_journal(
            journal.path, tasks, known_at=time.time() - 3700, next_poll_at=time.time()
        )
        policy = ListPolicy(split_at=8, first_span=60)
        timing = PollTiming(8, 0.1, 0.25, max_interval=30.0, max_rate=400)
        async with polling(liar.sim.url, state, journal, timing, policy) as run:
            await run.until_finished(40, timeout=15)
    assert all_in_state(journal, tasks, TaskState.DONE)
    assert run.requests("task") == 0, "every task was learnt from the list"
    assert len(sizes) > 3 and sum(sizes) >= 40
    assert max(sizes) <= policy.split_at


async def test_request_rate_is_bounded_however_many_tasks_wait(journal: Journal) -> None:
    def unavailable(answer: Answer) -> web.StreamResponse | None:
        return json_answer({"message": "no list here"}, status=404)

    async with lying_simulator(OPTIONS, {"tasks": unavailable}) as liar:
        state = liar.sim.state
        seed(state, journal, 300, pending=60, processing=60)
        # Every 0.05 s for 300 tasks would be 6,000 requests a second; the pace allows 100.
        timing = PollTiming(8, 0.0, 0.05, max_interval=1.0, max_rate=100)
        async with polling(liar.sim.url, state, journal, timing, ListPolicy()) as run:
            await run.until(lambda: run.requests("task") >= 120, "120 task requests", 10)
    times = sorted(e.time for e in state.request_log if e.route == "task")
    # After the first burst (as many as POLL_CONCURRENCY), the pace holds.
    steady = times[timing.concurrency :]
    rate = (len(steady) - 1) / (steady[-1] - steady[0])
    assert rate <= 100 * 1.1, f"{rate:.0f} requests a second"
