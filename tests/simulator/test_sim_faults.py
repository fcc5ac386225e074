"""Injected faults, counters, the request log and the control endpoints."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from sim_helpers import StartSim, bearer, form, task_json, wav_bytes

from hrec_ingest.simulator import RunningSimulator


async def _statuses(
    http: aiohttp.ClientSession, sim: RunningSimulator, headers: dict[str, str], n: int
) -> list[int]:
    statuses = []
    for _ in range(n):
        async with http.get(f"{sim.url}/api/tasks?filter={{}}", headers=headers) as response:
            statuses.append(response.status)
    return statuses


async def test_5xx_is_injected_and_seeded(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    runs = []
    for _ in range(2):
        sim = await start_sim(seed=11)
        headers = await bearer(http, sim)
        sim.options.fault_5xx = 1.0
        runs.append(await _statuses(http, sim, headers, 20))
        assert sim.state.faults_injected["5xx"] == 20
        assert sim.state.count("tasks", 200) == 0
    assert runs[0] == runs[1]
    assert set(runs[0]) <= {500, 502, 503, 504} and len(set(runs[0])) > 1


async def test_gateway_errors_are_html(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    sim.options.fault_5xx = 1.0
    kinds = {}
    for _ in range(30):
        async with http.get(f"{sim.url}/api/tasks/x", headers=headers) as response:
            kinds[response.status] = response.content_type
    assert kinds == {
        500: "application/json",
        502: "text/html",
        503: "application/json",
        504: "text/html",
    }


async def test_500_and_504_strike_after_the_task_was_accepted(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    sim.options.fault_5xx = 1.0
    outcome: dict[int, list[bool]] = {}
    for i in range(16):
        task_id = f"t{i}"
        body = form(task_json(["a.wav"], taskId=task_id), {"a.wav": wav_bytes(0.2)})
        async with http.post(f"{sim.url}/hrec", data=body, headers=headers) as response:
            outcome.setdefault(response.status, []).append(task_id in sim.state.tasks)
    assert set(outcome) == {500, 502, 503, 504}
    assert all(outcome[500]) and all(outcome[504])
    assert not any(outcome[502]) and not any(outcome[503])
    assert sim.state.faults_after_processing == len(outcome[500]) + len(outcome[504])


async def test_429_carries_retry_after(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    sim.options.fault_429 = 1.0
    sim.options.retry_after = "7"
    async with http.get(f"{sim.url}/api/tasks/x", headers=headers) as response:
        assert (response.status, response.headers["Retry-After"]) == (429, "7")
    sim.options.retry_after = "Wed, 21 Oct 2026 07:28:00 GMT"
    async with http.get(f"{sim.url}/api/tasks/x", headers=headers) as response:
        assert response.headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    assert sim.state.faults_injected["429"] == 2
    assert sim.state.count("task", 429) == 2


async def test_drop_closes_the_connection_unanswered(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    sim.options.fault_drop = 1.0
    for _ in range(3):
        with pytest.raises(aiohttp.ServerDisconnectedError):
            async with http.get(f"{sim.url}/api/tasks/x", headers=headers):
                pass
    # aiohttp retries a dropped GET once by itself: 3 failures, 6 requests.
    assert sim.state.count("task", 0) == 6
    assert sim.state.count("task") == 6
    assert sim.state.faults_injected["drop"] == 6


async def test_a_dropped_upload_may_have_been_accepted(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    sim.options.fault_drop = 1.0
    for i in range(12):
        body = form(task_json(["a.wav"], taskId=f"t{i}"), {"a.wav": wav_bytes(0.2)})
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.post(f"{sim.url}/hrec", data=body, headers=headers):
                pass
    assert 0 < len(sim.state.tasks) < 12
    assert len(sim.state.tasks) == sim.state.faults_after_processing


async def test_slow_answers_and_latency(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    url = f"{sim.url}/api/tasks/x"
    sim.options.fault_slow = 1.0
    sim.options.slow_seconds = 0.3
    started = time.monotonic()
    async with http.get(url, headers=headers) as response:
        assert response.status == 404
    assert time.monotonic() - started >= 0.3
    assert sim.state.faults_injected["slow"] == 1
    sim.options.fault_slow = 0.0
    sim.options.latency_seconds = 0.2
    started = time.monotonic()
    async with http.get(url, headers=headers) as response:
        assert response.status == 404
    assert time.monotonic() - started >= 0.2


async def test_probabilities_are_seeded(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    runs = []
    for _ in range(2):
        sim = await start_sim(seed=3)
        headers = await bearer(http, sim)
        sim.options.fault_5xx = 0.3
        sim.options.fault_429 = 0.3
        runs.append(await _statuses(http, sim, headers, 40))
    assert runs[0] == runs[1]
    assert {200, 429} <= set(runs[0])
    assert 5 < runs[0].count(200) < 35


async def test_control_endpoints_are_neither_faulted_nor_counted(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    sim.options.fault_5xx = 1.0
    sim.options.latency_seconds = 5.0
    async with http.get(f"{sim.url}/_sim/stats") as response:
        assert response.status == 200
        stats = await response.json()
    assert stats["requests"] == {}
    assert stats["options"]["fault_5xx"] == 1.0
    assert sim.state.request_log == type(sim.state.request_log)()


async def test_faults_can_be_changed_over_http(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    async with http.post(
        f"{sim.url}/_sim/faults", json={"fault_429": 1, "retry_after": 9}
    ) as response:
        assert response.status == 200
        assert (await response.json())["retry_after"] == "9"
    async with http.get(f"{sim.url}/api/tasks/x", headers=headers) as response:
        assert (response.status, response.headers["Retry-After"]) == (429, "9")
    bad_updates: list[dict[str, object]] = [
        {"users": {}},
        {"fault_429": 2},
        {"fault_5xx": "often"},
        {"fault_5xx": 0.5, "seed": 1},
    ]
    for bad in bad_updates:
        async with http.post(f"{sim.url}/_sim/faults", json=bad) as response:
            assert response.status == 400
    assert sim.options.fault_5xx == 0.0
    async with http.post(f"{sim.url}/_sim/faults", json={"error_files": "*.mp3"}) as response:
        assert response.status == 200
    assert sim.options.error_files == ("*.mp3",)


async def test_request_log_and_counters(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    sim.options.fault_429 = 1.0
    async with http.get(f"{sim.url}/api/tasks/x", headers=headers):
        pass
    sim.options.fault_429 = 0.0
    async with http.get(f"{sim.url}/api/tasks/x", headers=headers):
        pass
    async with http.get(f"{sim.url}/nowhere"):
        pass
    log = list(sim.state.request_log)
    assert [(e.method, e.route, e.status, e.tenant) for e in log] == [
        ("POST", "token", 200, "demo"),
        ("GET", "task", 429, "demo"),
        ("GET", "task", 404, "demo"),
        ("GET", "unmatched", 404, None),
    ]
    # What a client's back-off test measures: the gap after a 429.
    assert log[2].time >= log[1].time
    async with http.get(f"{sim.url}/_sim/stats") as response:
        stats = await response.json()
    assert stats["requests"]["task"] == {"404": 1, "429": 1}
    assert stats["faults_injected"] == {"429": 1}
    assert stats["tokens_issued"] == {"access": 1, "refresh": 1}


async def test_concurrency_peak(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    sim.options.latency_seconds = 0.3

    async def one() -> int:
        async with http.get(f"{sim.url}/api/tasks/x", headers=headers) as response:
            return response.status

    assert await asyncio.gather(*(one() for _ in range(10))) == [404] * 10
    assert sim.state.max_concurrent_requests == 10
    assert sim.state.in_flight == 0
