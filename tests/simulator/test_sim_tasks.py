"""A task's life and how it reads back: task metadata, meetings, errors, 404s."""

from __future__ import annotations

import time

import aiohttp
import pytest
from sim_helpers import ManualClock, StartSim, bearer, get_json, submit, wait_until, wav_bytes

from hrec_ingest.miaop.models import Meeting, TaskMetadataResponse
from hrec_ingest.simulator import RunningSimulator
from hrec_ingest.simulator.tasks import TaskRecord


async def test_status_moves_on_with_falling_remaining_time(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(pending_seconds=0.3, processing_seconds=2.2)
    headers = await bearer(http, sim)
    task_id = await submit(http, sim, headers, {"a.wav": wav_bytes(1.0)})
    seen: list[tuple[str, int]] = []

    async def done() -> bool:
        status, body = await get_json(http, f"{sim.url}/api/tasks/{task_id}", headers)
        assert status == 200
        seen.append((body["taskStatus"], body["sttRemainingTime"]))
        return bool(body["taskStatus"] == "sttDone")

    await wait_until(done, timeout=6.0, interval=0.05)
    statuses = [s for s, _ in seen]
    # In order, each seen at least once, never going back.
    assert sorted(set(statuses), key=statuses.index) == ["sttPending", "sttProcessing", "sttDone"]
    assert statuses == sorted(statuses, key=["sttPending", "sttProcessing", "sttDone"].index)
    assert {r for s, r in seen if s == "sttPending"} == {3}
    processing = [r for s, r in seen if s == "sttProcessing"]
    assert processing == sorted(processing, reverse=True)
    assert processing[0] > processing[-1] >= 1
    assert seen[-1] == ("sttDone", 0)


async def test_processing_time_follows_audio_length(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(pending_seconds=1, processing_seconds=2, processing_per_audio_second=0.5)
    clock = ManualClock()
    sim.state.clock = clock
    headers = await bearer(http, sim)
    task_id = await submit(http, sim, headers, {"a.wav": wav_bytes(6.0), "b.wav": wav_bytes(4.0)})
    url = f"{sim.url}/api/tasks/{task_id}"
    # 2 s fixed + 0.5 s per second of 10 s of audio.
    assert (await get_json(http, url, headers))[1]["sttRemainingTime"] == 7
    clock.advance(1.5)
    body = (await get_json(http, url, headers))[1]
    assert (body["taskStatus"], body["sttRemainingTime"]) == ("sttProcessing", 7)
    clock.advance(6.4)
    body = (await get_json(http, url, headers))[1]
    assert (body["taskStatus"], body["sttRemainingTime"]) == ("sttProcessing", 1)
    clock.advance(0.1)
    assert (await get_json(http, url, headers))[1]["taskStatus"] == "sttDone"


async def test_task_metadata_response(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    before = time.time()
    task_id = await submit(
        http,
        sim,
        headers,
        {"z.wav": wav_bytes(1.0), "a.wav": wav_bytes(1.0, seed=1)},
        taskName="Calls of Monday",
        genericAdditionalInfo='{"case": 42}',
        customField="kept",
    )
    status, body = await get_json(http, f"{sim.url}/api/tasks/{task_id}", headers)
    assert status == 200
    TaskMetadataResponse.model_validate(body)
    assert body["taskId"] == task_id
    assert body["taskStatus"] == "sttPending"
    # Submission order of the meetings, 1-based.
    assert body["meetings"] == [{"meetingId": f"1.{task_id}"}, {"meetingId": f"2.{task_id}"}]
    # The submitted TaskMetadata comes back, unknown fields included.
    assert (body["taskName"], body["tenant"], body["taskType"]) == (
        "Calls of Monday",
        "demo",
        "offline",
    )
    assert body["baseLanguages"] == ["Hebrew"]
    assert body["genericAdditionalInfo"] == '{"case": 42}'
    assert body["customField"] == "kept"
    extra = body["extraData"]
    assert extra["archive"] is False
    assert extra["tenant"] == "demo"
    assert extra["supervisor"] == {"name": "", "email": "admin@example.com"}
    # Epoch seconds (guide 2.4.1), not milliseconds.
    assert int(before) <= extra["taskUpdateTimeNumeric"] <= time.time() + 1


async def test_meeting_metadata(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    task_id = await submit(http, sim, headers, {"a.wav": wav_bytes(1.0)})
    url = f"{sim.url}/api/meetings/1.{task_id}"
    status, body = await get_json(http, url, headers)
    assert status == 200
    Meeting.model_validate(body)
    assert body["meetingId"] == f"1.{task_id}"
    assert body["metadata"]["status"] in ("sttPending", "sttProcessing")
    assert body["metadata"]["files"] == [{"file": "a.wav", "baseLanguage": "Hebrew"}]
    assert "errorInfo" not in body["metadata"]
    await wait_until(lambda: _meeting_status_is(http, url, headers, "sttDone"))


async def _meeting_status_is(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], expected: str
) -> bool:
    return bool((await get_json(http, url, headers))[1]["metadata"]["status"] == expected)


def _task(sim: RunningSimulator, task_id: str) -> TaskRecord:
    return sim.state.tasks[task_id]


async def test_error_files_fail_their_meeting_only(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(error_files=("bad-*.wav",))
    headers = await bearer(http, sim)
    task_id = await submit(
        http, sim, headers, {"good.wav": wav_bytes(1.0), "bad-1.wav": wav_bytes(1.0, seed=1)}
    )

    async def finished() -> bool:
        return _task(sim, task_id).status(sim.state.now()) == "sttDone"

    await wait_until(finished)
    good = (await get_json(http, f"{sim.url}/api/meetings/1.{task_id}", headers))[1]
    bad = (await get_json(http, f"{sim.url}/api/meetings/2.{task_id}", headers))[1]
    assert good["metadata"]["status"] == "sttDone"
    assert bad["metadata"]["status"] == "error"
    info = bad["metadata"]["errorInfo"]
    assert info["errorLevel"] == "critical" and "bad-1.wav" in info["message"] and info["name"]
    assert (await get_json(http, f"{sim.url}/api/stt/1.{task_id}/0", headers))[0] == 200
    status, body = await get_json(http, f"{sim.url}/api/stt/2.{task_id}/0", headers)
    assert status == 409 and "error" in body["message"]


async def test_task_error_files_fail_the_whole_task(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(task_error_files=("*poison*",))
    headers = await bearer(http, sim)
    task_id = await submit(
        http, sim, headers, {"ok.wav": wav_bytes(1.0), "poison.wav": wav_bytes(1.0, seed=1)}
    )
    url = f"{sim.url}/api/tasks/{task_id}"

    async def finished() -> bool:
        return bool((await get_json(http, url, headers))[1]["taskStatus"] == "error")

    await wait_until(finished)
    for index in (1, 2):
        meeting = (await get_json(http, f"{sim.url}/api/meetings/{index}.{task_id}", headers))[1]
        assert meeting["metadata"]["status"] == "error"
        assert "poison.wav" in meeting["metadata"]["errorInfo"]["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/tasks/unknown",
        "/api/meetings/1.unknown",
        "/api/meetings/0.{id}",
        "/api/meetings/2.{id}",
        "/api/meetings/{id}",
        "/api/meetings/x.{id}",
        "/api/stt/2.{id}/0",
        "/api/stt/1.{id}/1",
        # Section 3.5's singular path is not the API (section 2.3 is).
        "/api/task/{id}",
    ],
)
async def test_unknown_things_are_404(
    sim: RunningSimulator, http: aiohttp.ClientSession, path: str
) -> None:
    headers = await bearer(http, sim)
    task_id = await submit(http, sim, headers, {"a.wav": wav_bytes(1.0)})
    async with http.get(sim.url + path.format(id=task_id), headers=headers) as response:
        assert response.status == 404


async def test_tasks_of_another_tenant_are_not_readable(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    users = {
        "demo": {"user": "Psw12345!"},
        "other": {"user": "Psw12345!"},
        "master": {"user": "Psw12345!"},
    }
    sim = await start_sim(users=users)
    task_id = await submit(http, sim, await bearer(http, sim), {"a.wav": wav_bytes(1.0)})
    url = f"{sim.url}/api/tasks/{task_id}"
    status, body = await get_json(http, url, await bearer(http, sim, "other"))
    assert status == 401 and "'other'" in body["message"]
    assert (await get_json(http, url, await bearer(http, sim, "master")))[0] == 200


async def test_archiving_shows_in_extra_data(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    task_id = await submit(http, sim, headers, {"a.wav": wav_bytes(1.0)})
    async with http.post(f"{sim.url}/_sim/archive/{task_id}") as response:
        assert response.status == 200
    async with http.post(f"{sim.url}/_sim/archive/nope") as response:
        assert response.status == 404
    body = (await get_json(http, f"{sim.url}/api/tasks/{task_id}", headers))[1]
    assert body["extraData"]["archive"] is True
    assert sim.state.tasks[task_id].archived
