"""The task list and its filter (guide 2.4.1)."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from sim_helpers import PASSWORD, StartSim, bearer, get_json, submit, wav_bytes

from hrec_ingest.miaop.models import TaskMetadataResponse
from hrec_ingest.simulator import RunningSimulator
from hrec_ingest.simulator.filters import MISSING, FilterError, compile_filter


def _matches(filter_: Any, fields: dict[str, Any]) -> bool:
    return compile_filter(json.dumps(filter_))(lambda path: fields.get(path, MISSING))


def test_operators() -> None:
    fields = {"n": 10, "s": "b", "flag": False}
    assert _matches({"n": {"$gte": 10, "$lt": 11}}, fields)
    assert not _matches({"n": {"$gt": 10}}, fields)
    assert _matches({"n": {"$lte": 10, "$ne": 9}}, fields)
    assert _matches({"s": {"$in": ["a", "b"]}, "n": {"$nin": [1]}}, fields)
    assert _matches({"$or": [{"s": "x"}, {"n": 10}]}, fields)
    assert not _matches({"$and": [{"s": "b"}, {"n": 11}]}, fields)
    # Missing fields equal nothing, so "$ne: true" holds for them (MongoDB's rule).
    assert _matches({"absent": {"$ne": True}, "flag": {"$ne": True}}, fields)
    assert not _matches({"absent": 1}, fields)
    assert _matches({"absent": {"$exists": False}, "n": {"$exists": True}}, fields)
    # JSON false is not 0; strings do not compare with numbers.
    assert not _matches({"flag": 0}, fields)
    assert not _matches({"s": {"$gte": 0}}, fields)
    assert _matches({}, fields)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (None, "required"),
        ("{not json", "not valid JSON"),
        ('{"$nor": []}', "unknown operator '$nor'"),
        ('{"n": {"$regex": "x"}}', "unknown operator '$regex'"),
        ('{"n": {"$in": 3}}', "takes an array"),
        ('{"$and": {"n": 1}}', "takes an array"),
        ("[1]", "must be a JSON object"),
    ],
)
def test_malformed_filters(text: str | None, problem: str) -> None:
    with pytest.raises(FilterError, match=problem.replace("$", r"\$")):
        compile_filter(text)


async def _list(
    http: aiohttp.ClientSession, sim: RunningSimulator, headers: dict[str, str], filter_: Any
) -> list[str]:
    status, body = await get_json(http, f"{sim.url}/api/tasks", headers, filter=json.dumps(filter_))
    assert status == 200, body
    for item in body:
        TaskMetadataResponse.model_validate(item)
    return sorted(item["taskId"] for item in body)


async def test_list_filter_semantics(start_sim: StartSim, http: aiohttp.ClientSession) -> None:
    users = {tenant: {"user": PASSWORD} for tenant in ("demo", "other", "master")}
    # Tasks stay sttPending for the whole test, however slow a loaded machine is.
    sim = await start_sim(users=users, pending_seconds=3600.0)
    demo = await bearer(http, sim, "demo")
    other = await bearer(http, sim, "other")
    master = await bearer(http, sim, "master")
    audio = {"a.wav": wav_bytes(1.0)}
    alice = {"name": "Alice", "email": "alice@example.com"}
    a1 = await submit(http, sim, demo, audio, taskId="a1", supervisor=alice)
    a2 = await submit(http, sim, demo, audio, taskId="a2")
    b1 = await submit(http, sim, other, audio, taskId="b1", tenant="other")
    now = int(time.time())
    sim.state.archive_task(a2)

    assert await _list(http, sim, demo, {}) == [a1, a2]
    assert await _list(http, sim, other, {}) == [b1]
    assert await _list(http, sim, master, {}) == [a1, a2, b1]
    assert await _list(http, sim, master, {"$and": [{"extraData.tenant": "other"}]}) == [b1]
    not_archived = {"extraData.archive": {"$ne": True}}
    assert await _list(http, sim, demo, {"$and": [not_archived]}) == [a1]
    by_email = {"extraData.supervisor.email": "alice@example.com"}
    assert await _list(http, sim, demo, {"$and": [by_email]}) == [a1]
    assert await _list(http, sim, demo, {"$and": [{"extraData.supervisor.name": "Alice"}]}) == [a1]
    # Seconds, as section 2.4.1 says; section 3.6's milliseconds match nothing.
    seconds = {"extraData.taskUpdateTimeNumeric": {"$gte": now - 60, "$lt": now + 60}}
    assert await _list(http, sim, demo, {"$and": [seconds, not_archived]}) == [a1]
    millis = {
        "extraData.taskUpdateTimeNumeric": {"$gte": (now - 60) * 1000, "$lt": (now + 60) * 1000}
    }
    assert await _list(http, sim, demo, {"$and": [millis]}) == []
    assert await _list(http, sim, demo, {"taskStatus": "sttPending", "taskId": "a1"}) == [a1]


async def test_list_needs_a_valid_filter(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    headers = await bearer(http, sim)
    status, body = await get_json(http, f"{sim.url}/api/tasks", headers)
    assert status == 400 and "filter" in body["message"]
    status, body = await get_json(http, f"{sim.url}/api/tasks", headers, filter="{oops")
    assert status == 400 and "not valid JSON" in body["message"]
