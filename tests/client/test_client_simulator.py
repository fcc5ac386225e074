"""The client against the built-in simulator over real loopback sockets (and TLS)."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import time
import uuid
import wave
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from hrec_ingest.miaop import (
    ApiError,
    MiaopClient,
    NotFoundError,
    RetryPolicy,
    TaskListFilter,
    TlsError,
    TokenManager,
    UploadPart,
    make_session,
    make_ssl_context,
)
from hrec_ingest.miaop.models import (
    MeetingDesc,
    MeetingFile,
    SupervisorInfo,
    TaskMetadata,
    TaskStatus,
    meeting_id,
)
from hrec_ingest.simulator import RunningSimulator, SimulatorOptions, running_simulator

USERS = {"demo": {"user": "pw"}}
# Back-off far below the simulator's Retry-After, so that honouring it is visible.
POLICY = RetryPolicy(attempts=6, max_total_seconds=30, base_seconds=0.01, cap_seconds=0.1)


def options(**overrides: Any) -> SimulatorOptions:
    values: dict[str, Any] = {
        "users": USERS,
        "pending_seconds": 0.2,
        "processing_seconds": 0.5,
        "retry_after": "1",
        "seed": 1,
    }
    values.update(overrides)
    return SimulatorOptions(**values)


class Client:
    """A connected client and its token manager."""

    def __init__(self, api: MiaopClient, tokens: TokenManager) -> None:
        self.api = api
        self.tokens = tokens


@asynccontextmanager
async def connect(url: str, context: ssl.SSLContext | None = None) -> AsyncIterator[Client]:
    context = context if context is not None else make_ssl_context(True, None, None, None)
    async with make_session(context, pool_limit=8, timeout_seconds=10) as session:
        tokens = TokenManager(session, url, "demo", "user", "pw", retry=POLICY)
        try:
            yield Client(MiaopClient(session, url, tokens, retry=POLICY), tokens)
        finally:
            await tokens.close()


def write_wav(path: Path, seconds: float, tone: int) -> UploadPart:
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes([tone % 256, 0]) * int(8000 * seconds))
    return UploadPart(path=path, filename=path.name, size=path.stat().st_size)


def make_task(files: list[UploadPart], language: str = "English") -> TaskMetadata:
    return TaskMetadata(
        taskId=uuid.uuid4().hex,
        tenant="demo",
        taskName="client end to end",
        taskCreationTime=datetime.now(UTC).strftime("%d.%m.%Y %H:%M"),
        baseLanguages=[language],
        genericAdditionalInfo='{"source": "tests"}',
        meetings=[
            MeetingDesc(files=[MeetingFile(file=f.filename, baseLanguage=language)]) for f in files
        ],
        supervisor=SupervisorInfo(email="boss@example.com"),
    )


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for ``condition()`` to hold, failing after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def log_of(sim: RunningSimulator, route: str) -> list[tuple[float, int]]:
    return [(entry.time, entry.status) for entry in sim.state.request_log if entry.route == route]


async def test_every_endpoint_end_to_end(tmp_path: Path) -> None:
    files = [write_wav(tmp_path / "first call.wav", 1.0, 3), write_wav(tmp_path / "b.wav", 2.0, 9)]
    task = make_task(files)
    assert task.taskId is not None
    started = datetime.now(UTC) - timedelta(seconds=5)
    async with running_simulator(options()) as sim, connect(sim.url) as client:
        progress: list[int] = []
        task_id = await client.api.submit_task(task, files, on_progress=progress.append)
        assert task_id == task.taskId
        assert progress[-1] == sum(f.size for f in files)

        async with asyncio.timeout(10):
            while (status := await client.api.get_task(task_id)).taskStatus != TaskStatus.DONE:
                assert status.taskStatus in (TaskStatus.PENDING, TaskStatus.PROCESSING)
                await asyncio.sleep(0.1)
        assert [m.meetingId for m in status.meetings] == [
            meeting_id(1, task_id),
            meeting_id(2, task_id),
        ]

        for ref in status.meetings:
            meeting = await client.api.get_meeting(ref.meetingId)
            assert meeting.meetingId == ref.meetingId
            assert meeting.metadata.status == TaskStatus.DONE
            result = await client.api.get_transcription(ref.meetingId)
            assert result.paragraphs and len(result.raw) == len(result.paragraphs)
            assert all(p.text for p in result.paragraphs)

        listed = await client.api.list_tasks(
            TaskListFilter(
                updated_since=started, tenant="demo", supervisor_email="boss@example.com"
            )
        )
        assert task_id in [t.taskId for t in listed]
        older = await client.api.list_tasks(TaskListFilter(updated_before=started))
        assert task_id not in [t.taskId for t in older]

        with pytest.raises(NotFoundError):
            await client.api.get_task("no-such-task")
        for file in files:
            digest = hashlib.sha256(file.path.read_bytes()).hexdigest()
            assert sim.state.tasks_with_sha256(digest) == 1


async def test_short_lived_tokens_are_renewed_without_a_failed_request(tmp_path: Path) -> None:
    async with running_simulator(options(expires_in=2)) as sim, connect(sim.url) as client:
        task_id = await submit_tiny(client, tmp_path)
        deadline = time.monotonic() + 8
        requests = 0
        while time.monotonic() < deadline:
            await client.api.get_task(task_id)
            requests += 1
            await asyncio.sleep(0.05)  # the request rate, not a wait for something
        assert requests > 50
        assert sim.state.unauthorized_count == 0
        assert sim.state.count("task", 200) == requests
        kinds = client.tokens.renewals_by_kind()
        assert kinds["password"] == 1 and kinds["refresh"] >= 4
        assert len(sim.state.issued_access_tokens) == client.tokens.renewals


async def test_retry_after_is_honoured(tmp_path: Path) -> None:
    async with running_simulator(options()) as sim, connect(sim.url) as client:
        task_id = await submit_tiny(client, tmp_path)
        sim.options.fault_429 = 1.0
        call = asyncio.create_task(client.api.get_task(task_id))
        await until(lambda: any(status == 429 for _, status in log_of(sim, "task")))
        sim.options.fault_429 = 0.0
        assert (await call).taskId == task_id
        (refused, status), (answered, final) = log_of(sim, "task")[-2:]
        assert (status, final) == (429, 200)
        gap = answered - refused
        print(f"\ngap after 429 with Retry-After: 1 -> {gap:.3f} s")
        assert gap >= 1.0


# With fault_5xx=0.5 the simulator's seeded draws give, request by request:
#   seed 2:   token 200, /hrec accepted but answered 500 or 504, probe GET 200 (done);
#   seed 104: token 200, /hrec 502 (maybe carried out), probe GET 404, /hrec 200;
#   seed 33:  token 200, /hrec 503 (certainly not carried out), /hrec 200 with no probe.
# Should the simulator's draws change, the log assertions say so: pick new seeds.
@pytest.mark.parametrize(
    ("seed", "expected"),
    [
        (2, [("hrec", (500, 504)), ("task", (200,))]),
        (104, [("hrec", (502,)), ("task", (404,)), ("hrec", (200,))]),
        (33, [("hrec", (503,)), ("hrec", (200,))]),
    ],
)
async def test_a_failed_upload_is_never_accepted_twice(
    tmp_path: Path, seed: int, expected: list[tuple[str, tuple[int, ...]]]
) -> None:
    files = [write_wav(tmp_path / "a.wav", 1.0, 5)]
    async with running_simulator(options(fault_5xx=0.5, seed=seed)) as sim:
        async with connect(sim.url) as client:
            task_id = await client.api.submit_task(make_task(files), files)
        log = [(entry.route, entry.status) for entry in sim.state.request_log]
        assert log[0] == ("token", 200)
        assert len(log) == len(expected) + 1
        for (route, status), (want_route, statuses) in zip(log[1:], expected, strict=True):
            assert route == want_route and status in statuses, log
        assert task_id in sim.state.tasks
        digest = hashlib.sha256(files[0].path.read_bytes()).hexdigest()
        assert sim.state.tasks_with_sha256(digest) == 1


async def test_server_errors_are_retried_until_success(tmp_path: Path) -> None:
    async with running_simulator(options()) as sim, connect(sim.url) as client:
        task_id = await submit_tiny(client, tmp_path)
        sim.options.fault_5xx = 1.0
        poll = asyncio.create_task(client.api.get_task(task_id))
        await until(lambda: any(status >= 500 for _, status in log_of(sim, "task")))
        sim.options.fault_5xx = 0.0
        assert (await poll).taskId == task_id
        statuses = [status for _, status in log_of(sim, "task")]
        assert statuses[-1] == 200 and any(s >= 500 for s in statuses)


async def test_a_400_surfaces_the_servers_message(tmp_path: Path) -> None:
    files = [write_wav(tmp_path / "a.wav", 1.0, 7)]
    async with running_simulator(options()) as sim, connect(sim.url) as client:
        with pytest.raises(ApiError) as caught:
            await client.api.submit_task(make_task(files, language="Klingon"), files)
        assert caught.value.status == 400
        assert "'Klingon' is not a supported language" in caught.value.server_message
        assert sim.state.count("hrec") == 1 and not sim.state.tasks


class TestTls:
    @pytest.fixture
    def ca(self) -> trustme.CA:
        return trustme.CA()

    @pytest.fixture
    def ca_pem(self, ca: trustme.CA, tmp_path: Path) -> Path:
        path = tmp_path / "ca.pem"
        ca.cert_pem.write_to_path(str(path))
        return path

    def server_context(self, ca: trustme.CA, *, mutual: bool) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        if mutual:
            ca.configure_trust(context)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def test_trusted_with_ca_bundle_only(self, ca: trustme.CA, ca_pem: Path) -> None:
        server = self.server_context(ca, mutual=False)
        async with running_simulator(options(), ssl_context=server) as sim:
            assert sim.url.startswith("https://")
            async with connect(sim.url, make_ssl_context(True, ca_pem, None, None)) as client:
                with pytest.raises(NotFoundError):
                    await client.api.get_task("unknown")
            async with connect(sim.url) as client:
                with pytest.raises(TlsError, match="CA_BUNDLE"):
                    await client.api.get_task("unknown")

    async def test_mutual_tls(self, ca: trustme.CA, ca_pem: Path, tmp_path: Path) -> None:
        leaf = ca.issue_cert("hrec-ingest@example.com")
        cert, key = tmp_path / "client.pem", tmp_path / "client.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        server = self.server_context(ca, mutual=True)
        async with running_simulator(options(), ssl_context=server) as sim:
            async with connect(sim.url, make_ssl_context(True, ca_pem, cert, key)) as client:
                with pytest.raises(NotFoundError):
                    await client.api.get_task("unknown")
                assert sim.state.count("task", 404) == 1


async def submit_tiny(client: Client, folder: Path) -> str:
    """A task of one short file, for tests that only need something to poll."""
    part = write_wav(folder / "tiny.wav", 0.5, 1)
    return await client.api.submit_task(make_task([part]), [part])
