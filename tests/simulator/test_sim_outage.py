"""What the reliability suites read from the simulator: outages, the request log, concurrency."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sim_helpers import StartSim, bearer, form, submit, task_json, wait_until, wav_bytes

from hrec_ingest.simulator import RunningSimulator


async def test_an_outage_refuses_connections_and_keeps_the_tasks(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    task_id = await submit(http, sim, headers, {"a.wav": wav_bytes(1.0)})
    await sim.take_down()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.get(f"{sim.url}/api/tasks/{task_id}", headers=headers):
            pass
    await sim.bring_back()
    async with http.get(f"{sim.url}/api/tasks/{task_id}", headers=headers) as response:
        assert response.status == 200  # same port, same tasks, same tokens
    assert sim.state.count("task") == 1  # the refused request never reached it


async def test_an_outage_cuts_a_request_in_flight(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    sim.options.latency_seconds = 5.0
    request = asyncio.create_task(http.get(f"{sim.url}/api/tasks/x", headers=headers))

    async def in_flight() -> bool:
        return sim.state.in_flight == 1

    await wait_until(in_flight)
    await sim.take_down()
    with pytest.raises(aiohttp.ClientConnectionError):
        await request
    await sim.bring_back()


async def test_the_log_names_the_resource_and_the_arrival(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    task = task_json(["a.wav"], taskId="chosenbyclient01")
    sim.options.fault_429 = 1.0
    async with http.post(
        f"{sim.url}/hrec", data=form(task, {"a.wav": wav_bytes(1.0)}), headers=headers
    ) as response:
        assert response.status == 429
    sim.options.fault_429 = 0.0
    async with http.post(
        f"{sim.url}/hrec", data=form(task, {"a.wav": wav_bytes(1.0)}), headers=headers
    ) as response:
        assert response.status == 200
    async with http.get(f"{sim.url}/api/tasks/chosenbyclient01", headers=headers) as response:
        assert response.status == 200
    refused, accepted, asked = list(sim.state.request_log)[1:]
    assert (refused.route, refused.status, refused.task_id) == ("hrec", 429, "chosenbyclient01")
    assert (accepted.route, accepted.status, accepted.task_id) == ("hrec", 200, "chosenbyclient01")
    assert (asked.path, asked.task_id) == ("/api/tasks/chosenbyclient01", None)
    for entry in (refused, accepted, asked):
        assert entry.started <= entry.time
    assert refused.time <= accepted.started


async def test_a_request_whose_client_gave_up_is_not_counted_as_waiting(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(fault_slow=1.0, slow_seconds=0.6)
    timeout = aiohttp.ClientTimeout(total=0.1)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        for _ in range(3):
            with pytest.raises(TimeoutError):
                async with http.get(f"{sim.url}/api/tasks/x"):
                    pass
    # One after the other, each abandoned before the next: never two waiting at once.
    assert sim.state.max_concurrent_connected == 1
    assert sim.state.max_concurrent_requests > 1

    async def answered() -> bool:
        return sim.state.in_flight == 0

    await wait_until(answered)
