"""POST /hrec: streaming upload, the guide's validation rules, taskId handling."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from sim_helpers import StartSim, bearer, form, submit, task_json, wait_until, wav_bytes

from hrec_ingest.simulator import RunningSimulator


async def _post(
    http: aiohttp.ClientSession, sim: RunningSimulator, headers: dict[str, str], data: Any
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{sim.url}/hrec", data=data, headers=headers) as response:
        return response.status, await response.json()


async def test_accepts_a_task_and_keeps_only_digests(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    audio = {"b.wav": wav_bytes(2.0, seed=1), "a.wav": wav_bytes(3.0, seed=2)}
    task = task_json(["a.wav", "b.wav"], genericAdditionalInfo='{"k": "v"}')
    # Files before the task field: the guide does not fix the order of parts.
    status, body = await _post(http, sim, headers, form(task, audio, task_first=False))
    assert status == 200
    task_id = body["taskId"]
    assert re.fullmatch(r"[a-z0-9]{16}", task_id)
    record = sim.state.tasks[task_id]
    assert (record.tenant, record.task_name, record.base_languages) == (
        "demo",
        "Offline Upload Task",
        ["Hebrew"],
    )
    assert record.supervisor == {"name": "", "email": "admin@example.com"}
    assert record.generic_additional_info == '{"k": "v"}'
    # In the order of the task's meetings, not of the parts.
    assert [f[:3] for f in record.files] == [
        (name, len(audio[name]), hashlib.sha256(audio[name]).hexdigest())
        for name in ("a.wav", "b.wav")
    ]
    assert [f.duration_seconds for f in record.files] == [3.0, 2.0]
    assert not record.archived


async def test_counts_tasks_per_content(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    audio = wav_bytes(1.0)
    sha = hashlib.sha256(audio).hexdigest()
    assert sim.state.tasks_with_sha256(sha) == 0
    await submit(http, sim, headers, {"one.wav": audio})
    await submit(http, sim, headers, {"renamed.wav": audio, "other.wav": wav_bytes(1.0, seed=3)})
    assert sim.state.tasks_with_sha256(sha) == 2


async def test_streams_a_large_file(sim: RunningSimulator, http: aiohttp.ClientSession) -> None:
    headers = await bearer(http, sim)
    audio = wav_bytes(400.0, rate=16000)  # 12.8 MB
    task_id = await submit(http, sim, headers, {"long.wav": audio})
    file = sim.state.tasks[task_id].files[0]
    assert (file.size, file.sha256) == (len(audio), hashlib.sha256(audio).hexdigest())
    assert file.duration_seconds == pytest.approx(400.0)


async def test_client_chosen_task_id_and_conflict(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    audio = {"a.wav": wav_bytes(1.0)}
    assert await submit(http, sim, headers, audio, taskId="batch-0001") == "batch-0001"
    status, body = await _post(
        http, sim, headers, form(task_json(["a.wav"], taskId="batch-0001"), audio)
    )
    assert status == 409
    assert "batch-0001" in body["message"]
    assert list(sim.state.tasks) == ["batch-0001"]


def _set(**changes: Any) -> Callable[[dict[str, Any]], None]:
    return lambda task: task.update(changes)


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda task: task.pop(key)


def _meeting_files(files: list[dict[str, str]]) -> Callable[[dict[str, Any]], None]:
    return lambda task: task["meetings"][0].update(files=files)


def _no_email(task: dict[str, Any]) -> None:
    task["supervisor"] = {"name": "x"}


# (change to a valid one-file task for "a.wav", words the 400 must contain)
TASK_RULES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("taskType", _set(taskType="online"), 'taskType must be "offline"'),
    ("taskType missing", _drop("taskType"), "taskType"),
    ("taskStatus", _set(taskStatus="sttDone"), 'taskStatus must be "sttPending"'),
    ("tenant missing", _drop("tenant"), "tenant is required"),
    ("tenant foreign", _set(tenant="other"), "does not match the token's tenant"),
    ("taskName missing", _drop("taskName"), "taskName"),
    ("languages empty", _set(baseLanguages=[]), "baseLanguages must not be empty"),
    ("language case", _set(baseLanguages=["hebrew"]), "'hebrew' is not a supported language"),
    ("language unknown", _set(baseLanguages=["Klingon"]), "'Klingon' is not a supported"),
    ("meetings empty", _set(meetings=[]), "meetings must not be empty"),
    ("no file in meeting", _meeting_files([]), "exactly one item, got 0"),
    (
        "two files in meeting",
        _meeting_files([{"file": "a.wav", "baseLanguage": "Hebrew"}] * 2),
        "exactly one item, got 2",
    ),
    (
        "file language",
        _meeting_files([{"file": "a.wav", "baseLanguage": "English"}]),
        "baseLanguage 'English' is not in baseLanguages",
    ),
    (
        "file not uploaded",
        _meeting_files([{"file": "b.wav", "baseLanguage": "Hebrew"}]),
        "names file 'b.wav' but no soundBlob part",
    ),
    (
        "generic info not JSON",
        _set(genericAdditionalInfo="{oops"),
        "genericAdditionalInfo is not valid JSON",
    ),
    ("generic info not string", _set(genericAdditionalInfo={"k": 1}), "genericAdditionalInfo"),
    ("generic info array", _set(genericAdditionalInfo="[1]"), "must hold a JSON object"),
    (
        "generic info too big",
        _set(genericAdditionalInfo=json.dumps({"k": "x" * 10_240})),
        "at most 10240 allowed",
    ),
    ("supervisor email missing", _no_email, "supervisor.email"),
    (
        "supervisor email implausible",
        _set(supervisor={"name": "", "email": "nobody"}),
        "is not an email",
    ),
    ("taskId unsafe", _set(taskId="../x"), "taskId '../x'"),
]


@pytest.mark.parametrize(
    ("change", "expected"), [(c, e) for _, c, e in TASK_RULES], ids=[n for n, _, _ in TASK_RULES]
)
async def test_task_rules_answer_400_naming_the_problem(
    sim: RunningSimulator,
    http: aiohttp.ClientSession,
    change: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    headers = await bearer(http, sim)
    task = task_json(["a.wav"])
    change(task)
    status, body = await _post(http, sim, headers, form(task, {"a.wav": wav_bytes(0.5)}))
    assert status == 400
    assert expected in body["message"]
    assert sim.state.tasks == {}


Part = tuple[str, str | bytes, str | None]


def _raw_form(*parts: Part) -> Callable[[], aiohttp.FormData]:
    # A factory: a FormData body can be sent only once.
    def build() -> aiohttp.FormData:
        data = aiohttp.FormData(default_to_multipart=True)
        for name, content, filename in parts:
            if filename is None:
                data.add_field(name, content)
            else:
                data.add_field(name, content, filename=filename)
        return data

    return build


TASK = json.dumps(task_json(["a.wav"]))
AUDIO = wav_bytes(0.5)
A_WAV: Part = ("soundBlob", AUDIO, "a.wav")
FORM_RULES: list[tuple[str, Callable[[], Any], str]] = [
    ("task not JSON", _raw_form(("task", "{", None), A_WAV), "not valid JSON"),
    ("task not object", _raw_form(("task", "[]", None), A_WAV), "JSON object"),
    ("task missing", _raw_form(A_WAV), "task field (TaskMetadata JSON) is missing"),
    ("two tasks", _raw_form(("task", TASK, None), ("task", TASK, None)), "more than one task"),
    ("no audio", _raw_form(("task", TASK, None)), "no soundBlob part"),
    (
        "extra audio",
        _raw_form(("task", TASK, None), A_WAV, ("soundBlob", AUDIO, "b.wav")),
        "soundBlob 'b.wav' is not named by any meeting",
    ),
    (
        "same name twice",
        _raw_form(("task", TASK, None), A_WAV, A_WAV),
        "2 soundBlob parts have the same filename 'a.wav'",
    ),
    (
        "unknown field",
        _raw_form(("task", TASK, None), A_WAV, ("note", "hi", None)),
        "unexpected form field 'note'",
    ),
    ("not multipart", lambda: {"task": TASK}, "must be multipart/form-data"),
]


@pytest.mark.parametrize(
    ("build", "expected"), [(b, e) for _, b, e in FORM_RULES], ids=[n for n, _, _ in FORM_RULES]
)
async def test_form_rules_answer_400_naming_the_problem(
    sim: RunningSimulator, http: aiohttp.ClientSession, build: Callable[[], Any], expected: str
) -> None:
    status, body = await _post(http, sim, await bearer(http, sim), build())
    assert status == 400
    assert expected in body["message"]


async def test_one_file_named_by_two_meetings(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    task = task_json(["a.wav", "a.wav"])
    status, body = await _post(http, sim, await bearer(http, sim), form(task, {"a.wav": AUDIO}))
    assert (status, body["message"]) == (400, "file 'a.wav' is named by more than one meeting")


async def test_reject_files_names_the_file(
    start_sim: StartSim, http: aiohttp.ClientSession
) -> None:
    sim = await start_sim(reject_files=("*corrupt*",))
    headers = await bearer(http, sim)
    audio = {"ok.wav": AUDIO, "corrupt-1.wav": AUDIO}
    status, body = await _post(http, sim, headers, form(task_json(list(audio)), audio))
    assert status == 400
    assert "'corrupt-1.wav'" in body["message"]
    # Split out, the rest goes through.
    await submit(http, sim, headers, {"ok.wav": AUDIO})
    assert len(sim.state.tasks) == 1


async def test_an_abandoned_upload_is_counted_and_forgotten(
    sim: RunningSimulator, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    headers = await bearer(http, sim)
    host, port = sim.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    part = b'--XX\r\nContent-Disposition: form-data; name="soundBlob"; filename="a.wav"\r\n\r\n'
    writer.write(
        b"POST /hrec HTTP/1.1\r\nHost: sim\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
        + f"Authorization: {headers['Authorization']}\r\nContent-Length: 10000000\r\n\r\n".encode()
        + part
        + bytes(100_000)
    )
    await writer.drain()

    async def reading() -> bool:
        return sim.state.in_flight == 1

    await wait_until(reading)
    writer.close()
    await writer.wait_closed()

    async def counted() -> bool:
        return sim.state.count("hrec", 499) == 1

    await wait_until(counted)
    assert sim.state.in_flight == 0 and sim.state.tasks == {}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
