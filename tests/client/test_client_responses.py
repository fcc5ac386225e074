"""What a real server rarely does, played with aioresponses: odd bodies, odd statuses, retries."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from hrec_ingest.miaop import (
    ApiError,
    ConflictError,
    LocalFileError,
    MiaopClient,
    NotFoundError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TaskListFilter,
    TokenManager,
    TransportError,
    UnexpectedResponseError,
    UploadPart,
)
from hrec_ingest.miaop.models import MeetingDesc, MeetingFile, SupervisorInfo, TaskMetadata

API = "http://api.test"
KEYCLOAK = "http://kc.test:8443"
TOKEN_URL = f"{KEYCLOAK}/realms/demo/protocol/openid-connect/token"
TASK_URL = f"{API}/api/tasks/t1"
# aioresponses matches decoded URLs: the task list is matched by pattern.
ANY_TASKS_QUERY = re.compile(rf"^{re.escape(API)}/api/tasks\?filter=.+$")
FAST = RetryPolicy(attempts=4, max_total_seconds=10, base_seconds=0.001, cap_seconds=0.01)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as mock:
        mock.post(
            TOKEN_URL,
            payload={"access_token": "tok", "expires_in": 300, "refresh_token": "ref"},
            repeat=True,
        )
        yield mock


class Recorder:
    """Observer that keeps what it is told."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, int | str]] = []
        self.renewals: list[tuple[str, str]] = []
        self.uploaded = 0

    def on_request(self, endpoint: str, status: int | str, seconds: float) -> None:
        self.requests.append((endpoint, status))

    def on_token_renewal(self, tenant: str, kind: str) -> None:
        self.renewals.append((tenant, kind))

    def on_bytes_uploaded(self, n: int) -> None:
        self.uploaded += n


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(recorder: Recorder) -> AsyncIterator[MiaopClient]:
    async with aiohttp.ClientSession() as session:
        tokens = TokenManager(
            session, KEYCLOAK, "demo", "user", "pw", retry=FAST, observer=recorder
        )
        yield MiaopClient(session, API, tokens, retry=FAST, observer=recorder)


def calls(mock: aioresponses, method: str, url: str) -> int:
    return len(mock.requests.get((method, URL(url)), []))


def task_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "taskId": "t1",
        "taskStatus": "sttProcessing",
        "sttRemainingTime": 12,
        "meetings": [{"meetingId": "1.t1"}],
    }
    body.update(overrides)
    return body


def make_task(names: list[str], task_id: str | None = "t1") -> TaskMetadata:
    return TaskMetadata(
        taskId=task_id,
        tenant="demo",
        taskName="calls",
        taskCreationTime="08.03.2026 10:30",
        baseLanguages=["English"],
        meetings=[MeetingDesc(files=[MeetingFile(file=n, baseLanguage="English")]) for n in names],
        supervisor=SupervisorInfo(email="boss@example.com"),
    )


def make_files(tmp_path: Path, names: list[str]) -> list[UploadPart]:
    parts = []
    for name in names:
        path = tmp_path / name
        path.write_bytes(b"RIFF" + name.encode() * 10)
        parts.append(UploadPart(path=path, filename=name, size=path.stat().st_size))
    return parts


class TestBodies:
    async def test_a_good_task(
        self, client: MiaopClient, mocked: aioresponses, recorder: Recorder
    ) -> None:
        mocked.get(TASK_URL, payload=task_body(extraField={"kept": True}))
        task = await client.get_task("t1")
        assert (task.taskId, task.taskStatus, task.sttRemainingTime) == ("t1", "sttProcessing", 12)
        assert task.meetings[0].meetingId == "1.t1"
        assert task.model_extra == {"extraField": {"kept": True}}
        assert recorder.renewals == [("demo", "password")]
        assert recorder.requests == [("token", 200), ("task", 200)]

    @pytest.mark.parametrize(
        ("body", "problem"),
        [
            ("<html><body>502 Bad Gateway</body></html>", "not JSON"),
            ('{"taskId": "t1", "taskStatus": "sttDo', "not JSON"),
            ('{"taskId": "t1"}', "taskStatus"),
            ('{"taskId": "t1", "taskStatus": "sttDone", "meetings": "none"}', "meetings"),
            ('{"taskId": 7, "taskStatus": "sttDone"}', "taskId"),
            ("[1, 2]", "TaskMetadataResponse"),
        ],
    )
    async def test_a_200_that_is_not_the_promised_json(
        self, client: MiaopClient, mocked: aioresponses, body: str, problem: str
    ) -> None:
        mocked.get(TASK_URL, body=body, status=200)
        with pytest.raises(UnexpectedResponseError) as caught:
            await client.get_task("t1")
        error = caught.value
        assert error.status == 200
        assert error.body_head == body[:200]
        assert problem in str(error)
        assert not error.retryable
        assert calls(mocked, "GET", TASK_URL) == 1

    async def test_a_submit_answer_without_task_id(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", payload={"status": "ok"})
        with pytest.raises(UnexpectedResponseError, match="taskId"):
            await client.submit_task(make_task(["a.wav"]), make_files(tmp_path, ["a.wav"]))

    async def test_task_list(self, client: MiaopClient, mocked: aioresponses) -> None:
        seen: list[URL] = []

        def answer(url: URL, **kwargs: Any) -> CallbackResult:
            seen.append(url)
            return CallbackResult(body=json.dumps([task_body(), task_body(taskId="t2")]))

        mocked.get(ANY_TASKS_QUERY, callback=answer)
        tasks = await client.list_tasks(TaskListFilter(tenant="demo"))
        assert [t.taskId for t in tasks] == ["t1", "t2"]
        assert json.loads(seen[0].query["filter"]) == {
            "$and": [{"extraData.archive": {"$ne": True}}, {"extraData.tenant": "demo"}]
        }

    async def test_task_list_that_is_not_a_list(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        mocked.get(ANY_TASKS_QUERY, payload={"tasks": []})
        with pytest.raises(UnexpectedResponseError, match="array"):
            await client.list_tasks(TaskListFilter())

    async def test_task_progress_keeps_what_polling_reads(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        mocked.get(
            ANY_TASKS_QUERY,
            body=json.dumps([task_body(sttRemainingTime=None), task_body(taskId="t2")]),
        )
        tasks = await client.list_task_progress(TaskListFilter(tenant="demo"))
        assert [(t.taskId, t.sttRemainingTime) for t in tasks] == [("t1", None), ("t2", 12)]
        assert not tasks[0].model_extra

    @pytest.mark.parametrize(
        ("body", "says"),
        [
            ("<html>502</html>", "not JSON"),
            ('{"tasks": []}', "array"),
            ('[{"taskId": "t1", "taskStatus": "sttDone"}, {"taskStatus": "sttDone"}]', "taskId"),
        ],
    )
    async def test_a_bad_task_list_says_what_is_wrong(
        self, client: MiaopClient, mocked: aioresponses, body: str, says: str
    ) -> None:
        mocked.get(ANY_TASKS_QUERY, body=body, repeat=True)
        with pytest.raises(UnexpectedResponseError, match=says):
            await client.list_task_progress(TaskListFilter())
        with pytest.raises(UnexpectedResponseError, match=says):
            await client.list_tasks(TaskListFilter())

    async def test_meeting(self, client: MiaopClient, mocked: aioresponses) -> None:
        mocked.get(
            f"{API}/api/meetings/1.t1",
            payload={
                "meetingId": "1.t1",
                "metadata": {
                    "status": "error",
                    "errorInfo": {"name": "E", "message": "bad audio", "errorLevel": "critical"},
                    "files": [{"file": "a.wav"}],
                },
            },
        )
        meeting = await client.get_meeting("1.t1")
        assert meeting.metadata.status == "error"
        assert meeting.metadata.errorInfo is not None
        assert meeting.metadata.errorInfo.message == "bad audio"
        assert meeting.metadata.model_extra == {"files": [{"file": "a.wav"}]}

    async def test_transcription_keeps_the_raw_objects(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        paragraphs = [
            {
                "id": "דובר-1",
                "location": 0,
                "duration": 2200,
                "text": "היי",
                "words": [],
                "sentiment": "calm",
            },
            {
                "Id": "spk-2",
                "location": 2200,
                "duration": 100,
                "text": "hi",
                "words": [{"word": "hi", "location": 2200, "duration": 100, "confidence": 0.9}],
            },
        ]
        mocked.get(f"{API}/api/stt/1.t1/0", payload={"transcription": paragraphs})
        result = await client.get_transcription("1.t1")
        assert result.raw == paragraphs
        assert [p.speaker for p in result.paragraphs] == ["דובר-1", "spk-2"]
        assert result.paragraphs[1].words[0].confidence == 0.9

    @pytest.mark.parametrize(
        "body",
        ['{"transcription": "none"}', '{"transcription": [1, 2]}', "[]", '{"other": []}'],
    )
    async def test_transcription_of_the_wrong_shape(
        self, client: MiaopClient, mocked: aioresponses, body: str
    ) -> None:
        mocked.get(f"{API}/api/stt/1.t1/0", body=body)
        with pytest.raises(UnexpectedResponseError, match="transcription"):
            await client.get_transcription("1.t1")

    async def test_ids_cannot_reach_other_resources(self, client: MiaopClient) -> None:
        with pytest.raises(ValueError):
            await client.get_task("../meetings/1")
        with pytest.raises(ValueError):
            await client.get_meeting("")


class TestStatuses:
    async def test_404_is_not_found_with_the_server_message(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        mocked.get(TASK_URL, status=404, payload={"message": "Task t1 not found"})
        with pytest.raises(NotFoundError) as caught:
            await client.get_task("t1")
        assert caught.value.status == 404
        assert caught.value.server_message == "Task t1 not found"
        assert calls(mocked, "GET", TASK_URL) == 1

    async def test_409_is_a_conflict(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", status=409, payload={"error": "taskId t1 already exists"})
        with pytest.raises(ConflictError, match="already exists") as caught:
            await client.submit_task(make_task(["a.wav"]), make_files(tmp_path, ["a.wav"]))
        assert caught.value.server_message == "taskId t1 already exists"

    async def test_400_with_a_text_body(self, client: MiaopClient, mocked: aioresponses) -> None:
        mocked.get(TASK_URL, status=400, body="Bad filter: " + "x" * 300)
        with pytest.raises(ApiError) as caught:
            await client.get_task("t1")
        assert caught.value.server_message == ("Bad filter: " + "x" * 300)[:200]
        assert not caught.value.retryable

    async def test_a_redirect_is_reported_not_followed(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        mocked.get(TASK_URL, status=302, headers={"Location": "https://api.test/api/tasks/t1"})
        with pytest.raises(UnexpectedResponseError, match="redirected to https://api.test"):
            await client.get_task("t1")

    async def test_an_html_error_page_with_502_is_retried_as_a_server_error(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        mocked.get(TASK_URL, status=502, body="<html>Bad Gateway</html>", repeat=True)
        with pytest.raises(ServerError) as caught:
            await client.get_task("t1")
        assert caught.value.server_message == "<html>Bad Gateway</html>"
        assert calls(mocked, "GET", TASK_URL) == FAST.attempts


class TestRetries:
    @pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
    async def test_transient_statuses_are_retried(
        self, client: MiaopClient, mocked: aioresponses, recorder: Recorder, status: int
    ) -> None:
        mocked.get(TASK_URL, status=status, body="busy")
        mocked.get(TASK_URL, payload=task_body())
        assert (await client.get_task("t1")).taskId == "t1"
        assert [r for r in recorder.requests if r[0] == "task"] == [("task", status), ("task", 200)]

    @pytest.mark.parametrize(
        "exc",
        [aiohttp.ClientConnectionError("reset"), aiohttp.ServerDisconnectedError(), TimeoutError()],
    )
    async def test_transport_failures_are_retried(
        self, client: MiaopClient, mocked: aioresponses, exc: Exception
    ) -> None:
        mocked.get(TASK_URL, exception=exc)
        mocked.get(TASK_URL, payload=task_body())
        assert (await client.get_task("t1")).taskId == "t1"

    async def test_one_attempt_when_the_caller_says_so(
        self, client: MiaopClient, mocked: aioresponses, recorder: Recorder
    ) -> None:
        mocked.get(TASK_URL, exception=TimeoutError(), repeat=True)
        with pytest.raises(TransportError, match="timed out") as caught:
            await client.get_task("t1", retry=RetryPolicy(attempts=1))
        assert caught.value.retryable
        assert calls(mocked, "GET", TASK_URL) == 1
        assert ("task", "timeout") in recorder.requests

    async def test_exhaustion_raises_the_last_error(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        for n in range(FAST.attempts):
            mocked.get(TASK_URL, status=503, payload={"message": f"down {n}"})
        with pytest.raises(ServerError, match=f"down {FAST.attempts - 1}"):
            await client.get_task("t1")
        assert calls(mocked, "GET", TASK_URL) == FAST.attempts

    async def test_total_time_is_bounded(self, client: MiaopClient, mocked: aioresponses) -> None:
        mocked.get(TASK_URL, status=500, repeat=True)
        policy = RetryPolicy(
            attempts=1000, max_total_seconds=0.5, base_seconds=0.05, cap_seconds=0.1
        )
        started = time.monotonic()
        with pytest.raises(ServerError):
            await client.get_task("t1", retry=policy)
        elapsed = time.monotonic() - started
        assert elapsed < 0.5 + 0.5  # the bound, plus generous slack for a loaded machine
        assert 2 <= calls(mocked, "GET", TASK_URL) < 1000

    async def test_retry_after_beyond_the_budget_gives_up_at_once(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        mocked.get(TASK_URL, status=429, headers={"Retry-After": "60"}, repeat=True)
        started = time.monotonic()
        with pytest.raises(RateLimitedError) as caught:
            await client.get_task("t1", retry=RetryPolicy(attempts=5, max_total_seconds=5))
        assert caught.value.retry_after == 60
        assert time.monotonic() - started < 2
        assert calls(mocked, "GET", TASK_URL) == 1

    async def test_retry_after_as_an_http_date_is_a_floor(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        seen: list[float] = []
        not_before = float(int(time.time()) + 2)  # HTTP dates have whole seconds

        def busy(url: URL, **kwargs: Any) -> CallbackResult:
            seen.append(time.time())
            return CallbackResult(
                status=429, headers={"Retry-After": formatdate(not_before, usegmt=True)}
            )

        def fine(url: URL, **kwargs: Any) -> CallbackResult:
            seen.append(time.time())
            return CallbackResult(payload=task_body())

        mocked.get(TASK_URL, callback=busy)
        mocked.get(TASK_URL, callback=fine)
        await client.get_task("t1")
        assert len(seen) == 2
        # The back-off alone (cap 10 ms) would have come back at once.
        assert seen[1] >= not_before - 0.01, seen[1] - not_before

    async def test_final_errors_are_not_retried(
        self, client: MiaopClient, mocked: aioresponses
    ) -> None:
        mocked.get(TASK_URL, status=403, payload={"message": "forbidden"}, repeat=True)
        with pytest.raises(ApiError, match="forbidden"):
            await client.get_task("t1")
        assert calls(mocked, "GET", TASK_URL) == 1


class TestSubmitRetries:
    async def test_without_a_task_id_an_ambiguous_failure_is_not_resent(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", status=500, repeat=True)
        with pytest.raises(ServerError):
            await client.submit_task(
                make_task(["a.wav"], task_id=None), make_files(tmp_path, ["a.wav"])
            )
        assert calls(mocked, "POST", f"{API}/hrec") == 1

    async def test_without_a_task_id_a_turned_away_request_is_resent(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", status=503)
        mocked.post(f"{API}/hrec", payload={"taskId": "server-made"})
        task = make_task(["a.wav"], task_id=None)
        assert await client.submit_task(task, make_files(tmp_path, ["a.wav"])) == "server-made"

    async def test_with_a_task_id_the_server_is_asked_before_resending(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", exception=aiohttp.ServerDisconnectedError())
        mocked.get(TASK_URL, payload=task_body(taskStatus="sttPending"))
        assert (
            await client.submit_task(make_task(["a.wav"]), make_files(tmp_path, ["a.wav"])) == "t1"
        )
        assert calls(mocked, "POST", f"{API}/hrec") == 1

    async def test_with_a_task_id_an_unknown_task_is_sent_again(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", status=502)
        mocked.get(TASK_URL, status=404, payload={"message": "no such task"})
        mocked.post(f"{API}/hrec", payload={"taskId": "t1"})
        assert (
            await client.submit_task(make_task(["a.wav"]), make_files(tmp_path, ["a.wav"])) == "t1"
        )
        assert calls(mocked, "POST", f"{API}/hrec") == 2

    async def test_a_conflict_after_a_lost_answer_is_the_earlier_attempt(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", exception=TimeoutError())
        mocked.get(TASK_URL, status=404)  # probed while the server was still storing it
        mocked.post(f"{API}/hrec", status=409, payload={"message": "task 't1' already exists"})
        mocked.get(TASK_URL, payload=task_body(taskStatus="sttPending"))
        task, files = make_task(["a.wav"]), make_files(tmp_path, ["a.wav"])
        assert await client.submit_task(task, files) == "t1"
        assert calls(mocked, "POST", f"{API}/hrec") == 2

    async def test_a_conflict_on_the_first_attempt_is_raised(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        mocked.post(f"{API}/hrec", status=409, payload={"message": "exists"})
        with pytest.raises(ConflictError):
            await client.submit_task(make_task(["a.wav"]), make_files(tmp_path, ["a.wav"]))
        assert calls(mocked, "GET", TASK_URL) == 0

    async def test_files_must_match_their_meetings(
        self, client: MiaopClient, tmp_path: Path
    ) -> None:
        files = make_files(tmp_path, ["a.wav", "b.wav"])
        with pytest.raises(ValueError, match="2 files for 1 meetings"):
            await client.submit_task(make_task(["a.wav"]), files)
        with pytest.raises(ValueError, match="names 'b.wav'"):
            await client.submit_task(make_task(["b.wav", "a.wav"]), files)

    async def test_a_file_that_changed_is_refused_before_sending(
        self, client: MiaopClient, mocked: aioresponses, tmp_path: Path
    ) -> None:
        files = make_files(tmp_path, ["a.wav"])
        files[0].path.write_bytes(b"shorter")
        with pytest.raises(LocalFileError, match="changed"):
            await client.submit_task(make_task(["a.wav"]), files)
        assert calls(mocked, "POST", f"{API}/hrec") == 0
