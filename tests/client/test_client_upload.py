"""POST /hrec against real local servers: the multipart body, streaming, timeouts, memory."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from hrec_ingest.miaop import (
    MiaopClient,
    RetryPolicy,
    TokenManager,
    TransportError,
    UploadPart,
    make_session,
    make_ssl_context,
    upload,
)
from hrec_ingest.miaop.errors import LocalFileError
from hrec_ingest.miaop.models import MeetingDesc, MeetingFile, SupervisorInfo, TaskMetadata

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = REPO / "docs" / "benchmarks.md"
BENCH_HEADING = "## Streamed upload memory"
FAST = RetryPolicy(attempts=3, max_total_seconds=30, base_seconds=0.01, cap_seconds=0.05)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    """What the fake server saw of each POST /hrec."""

    headers: list[dict[str, str]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    parts: list[list[tuple[str, str | None, str | None, bytes]]] = field(default_factory=list)
    raw_bytes: list[int] = field(default_factory=list)


async def token(request: web.Request) -> web.Response:
    return web.json_response({"access_token": "tok", "expires_in": 300})


@asynccontextmanager
async def serve(hrec: Handler) -> AsyncIterator[str]:
    """A Keycloak token endpoint and ``POST /hrec`` on a real loopback port."""
    app = web.Application(client_max_size=1 << 40)
    app.router.add_post("/realms/demo/protocol/openid-connect/token", token)
    app.router.add_post("/hrec", hrec)
    # A handler that leaves a body unread would otherwise drain it for 10 s at cleanup.
    runner = web.AppRunner(app, handle_signals=False, lingering_time=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def connect(
    url: str, *, timeout: float = 30.0, retry: RetryPolicy = FAST, observer: Any = None
) -> AsyncIterator[MiaopClient]:
    context = make_ssl_context(True, None, None, None)
    async with make_session(context, pool_limit=4, timeout_seconds=timeout) as session:
        tokens = TokenManager(session, url, "demo", "user", "pw", retry=retry)
        yield MiaopClient(session, url, tokens, retry=retry, observer=observer)


def make_task(names: list[str], task_id: str | None = "t-upload") -> TaskMetadata:
    return TaskMetadata(
        taskId=task_id,
        tenant="demo",
        taskName="upload test",
        taskCreationTime="08.03.2026 10:30",
        baseLanguages=["Hebrew"],
        meetings=[MeetingDesc(files=[MeetingFile(file=n, baseLanguage="Hebrew")]) for n in names],
        supervisor=SupervisorInfo(email="boss@example.com"),
    )


def write_files(tmp_path: Path, contents: dict[str, bytes]) -> list[UploadPart]:
    parts = []
    for name, data in contents.items():
        path = tmp_path / name
        path.write_bytes(data)
        parts.append(UploadPart(path=path, filename=name, size=len(data), content_type="audio/wav"))
    return parts


def recording_handler(received: Received, statuses: list[int] | None = None) -> Handler:
    """Parses the multipart body like the server would; answers the next status (default 200)."""

    async def hrec(request: web.Request) -> web.Response:
        received.headers.append(dict(request.headers))
        reader = await request.multipart()
        parts = []
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            data = await part.read()
            parts.append((part.name or "", part.filename, part.headers.get("Content-Type"), data))
        received.parts.append(parts)
        task = json.loads(parts[0][3])
        received.tasks.append(task)
        status = statuses.pop(0) if statuses else 200
        if status != 200:
            return web.json_response({"message": "try later"}, status=status)
        return web.json_response({"taskId": task.get("taskId", "server-made")})

    return hrec


class Recorder:
    def __init__(self) -> None:
        self.uploaded = 0

    def on_request(self, endpoint: str, status: int | str, seconds: float) -> None:
        pass

    def on_token_renewal(self, tenant: str, kind: str) -> None:
        pass

    def on_bytes_uploaded(self, n: int) -> None:
        self.uploaded += n


async def test_the_body_is_the_guides_multipart(tmp_path: Path) -> None:
    received = Received()
    contents = {
        "call 1.wav": b"RIFF" + bytes(range(256)) * 40,
        "שיחה-2 (ב).wav": b"RIFF\x00\x01" * 999,
    }
    files = write_files(tmp_path, contents)
    progress: list[int] = []
    recorder = Recorder()
    async with serve(recording_handler(received)) as url, connect(url, observer=recorder) as client:
        task_id = await client.submit_task(
            make_task(list(contents)), files, on_progress=progress.append
        )
    assert task_id == "t-upload"
    headers = received.headers[0]
    assert headers["Authorization"] == "Bearer tok"
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert "Content-Length" in headers and "Transfer-Encoding" not in headers
    names = [(name, filename, ctype) for name, filename, ctype, _ in received.parts[0]]
    assert names == [
        ("task", None, "application/json"),
        ("soundBlob", "call 1.wav", "audio/wav"),
        ("soundBlob", "שיחה-2 (ב).wav", "audio/wav"),
    ]
    assert [data for *_, data in received.parts[0][1:]] == list(contents.values())
    task = received.tasks[0]
    assert task["taskId"] == "t-upload" and task["taskStatus"] == "sttPending"
    assert task["meetings"][1]["files"] == [{"file": "שיחה-2 (ב).wav", "baseLanguage": "Hebrew"}]
    assert "genericAdditionalInfo" not in task and "taskUpdateTime" not in task
    total = sum(len(c) for c in contents.values())
    assert progress == sorted(progress) and progress[-1] == total
    assert recorder.uploaded == total


async def test_a_retry_sends_the_files_again_from_the_start(tmp_path: Path) -> None:
    received = Received()
    files = write_files(tmp_path, {"a.wav": os.urandom(300_000)})
    progress: list[int] = []
    async with serve(recording_handler(received, statuses=[503])) as url, connect(url) as client:
        await client.submit_task(make_task(["a.wav"]), files, on_progress=progress.append)
    assert len(received.parts) == 2
    assert received.parts[0][1][3] == received.parts[1][1][3] == files[0].path.read_bytes()
    assert progress.count(300_000) == 2  # each attempt reports from 0 to the full size


async def test_small_files_read_ahead_and_large_ones_streamed_arrive_alike(
    tmp_path: Path,
) -> None:
    small = upload.SMALL_FILE_BYTES
    contents = {
        "small-1.wav": os.urandom(small),
        "large.wav": os.urandom(small + 1),  # streamed: bigger than a small file
        "small-2.wav": os.urandom(1000),
    }
    files = write_files(tmp_path, contents)
    assert [c is not None for c in upload.read_small_files(files)] == [True, False, True]
    received = Received()
    async with serve(recording_handler(received, statuses=[503])) as url, connect(url) as client:
        await client.submit_task(make_task(list(contents)), files)
    assert len(received.parts) == 2  # a retry reads the small files again
    for attempt in received.parts:
        assert [data for *_, data in attempt[1:]] == list(contents.values())


class RecordingWriter(AbstractStreamWriter):
    """Keeps each write it is given, as the socket would get them."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(chunk))

    async def write_eof(self, chunk: bytes = b"") -> None:
        raise AssertionError("not used by a body")

    async def drain(self) -> None:
        pass

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        raise AssertionError("not used by a body")

    def enable_chunking(self) -> None:
        raise AssertionError("not used by a body")

    async def write_headers(self, status_line: str, headers: Any) -> None:
        raise AssertionError("not used by a body")


async def test_the_body_is_aiohttps_multipart_in_few_large_writes(tmp_path: Path) -> None:
    """Twenty small files in one send, a streamed file's chunks as they are; same bytes."""
    contents = {f"call-{i}.wav": os.urandom(2000) for i in range(20)}
    contents["large.wav"] = os.urandom(upload.CHUNK_BYTES + 10)
    files = write_files(tmp_path, contents)
    progress = upload.Progress(None, lambda n: None)
    body = upload.build_body(
        make_task(list(contents)),
        files,
        progress,
        write_timeout=5,
        contents=upload.read_small_files(files),
    )
    plain = aiohttp.MultipartWriter("form-data", boundary=body.boundary)
    for payload, *_ in body._parts:
        plain.append_payload(payload)

    gathered, one_by_one = RecordingWriter(), RecordingWriter()
    await body.write(gathered)
    await plain.write(one_by_one)

    assert b"".join(gathered.writes) == b"".join(one_by_one.writes)
    assert len(one_by_one.writes) > 4 * 21, "aiohttp writes each piece of each part apart"
    # The task and the 20 small files in one send; the large file's first chunk straight
    # through; its last 10 bytes gathered with the closing boundary.
    sizes = [len(write) for write in gathered.writes]
    assert sizes[1:] == [upload.CHUNK_BYTES, 10 + len(b"\r\n--" + body._boundary + b"--\r\n")]
    assert sizes[0] < upload.GATHER_BYTES


def test_read_ahead_stops_at_its_budget_and_refuses_a_changed_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload, "PREFETCH_MAX_BYTES", 2500)
    files = write_files(tmp_path, {f"{n}.wav": bytes(1000) for n in range(3)})
    assert [c is not None for c in upload.read_small_files(files)] == [True, True, False]
    files[1].path.write_bytes(bytes(999))
    with pytest.raises(LocalFileError, match="999 bytes, expected 1000"):
        upload.read_small_files(files)
    files[1].path.unlink()
    with pytest.raises(LocalFileError, match="cannot read"):
        upload.read_small_files(files)


async def test_an_upload_is_not_bound_by_the_total_timeout(tmp_path: Path) -> None:
    """A slow reader: each read comes soon, the whole takes longer than the session's total."""

    async def slow(request: web.Request) -> web.Response:
        async for _ in request.content.iter_chunked(256 * 1024):
            await asyncio.sleep(0.02)
        return web.json_response({"taskId": "slow"})

    files = write_files(tmp_path, {"a.wav": bytes(16 * 1024 * 1024)})
    timeout = aiohttp.ClientTimeout(total=0.3, sock_connect=10, sock_read=10)
    started = time.monotonic()
    async with serve(slow) as url, aiohttp.ClientSession(timeout=timeout) as session:
        tokens = TokenManager(session, url, "demo", "user", "pw")
        client = MiaopClient(session, url, tokens, retry=RetryPolicy(attempts=1))
        assert await client.submit_task(make_task(["a.wav"]), files) == "slow"
    assert time.monotonic() - started > 0.3


async def test_a_peer_that_stops_reading_times_out(tmp_path: Path) -> None:
    """aiohttp has no write timeout; the client's own one ends a stalled upload."""
    stalled = asyncio.Event()

    async def never_read(request: web.Request) -> web.Response:
        await stalled.wait()
        return web.json_response({"taskId": "never"})

    path = tmp_path / "big.wav"
    with open(path, "wb") as handle:
        handle.truncate(256 * 1024 * 1024)
    files = [UploadPart(path=path, filename="big.wav", size=path.stat().st_size)]
    async with serve(never_read) as url, connect(url, timeout=0.5) as client:
        with pytest.raises(TransportError, match="timed out"):
            await client.submit_task(make_task(["big.wav"]), files, retry=RetryPolicy(attempts=1))
        stalled.set()


@pytest.mark.timeout(300)
async def test_a_one_gigabyte_upload_streams_in_bounded_memory(tmp_path: Path) -> None:
    """The CI-sized benchmark: a 1 GiB sparse file through submit_task to a byte-counting sink."""
    size = 1 << 30
    path = tmp_path / "huge.wav"
    with open(path, "wb") as handle:
        handle.truncate(size)
    counted: list[int] = []

    async def sink(request: web.Request) -> web.Response:
        total = 0
        while chunk := await request.content.readany():
            total += len(chunk)
        counted.append(total)
        return web.json_response({"taskId": "sink"})

    process = psutil.Process()
    peak = baseline = process.memory_info().rss
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.01)

    files = [UploadPart(path=path, filename="huge.wav", size=size)]
    async with serve(sink) as url, connect(url) as client:
        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        try:
            assert await client.submit_task(make_task(["huge.wav"]), files) == "sink"
        finally:
            seconds = time.monotonic() - started
            done.set()
            await sampler
    growth = peak - baseline
    assert counted and counted[0] > size  # the file plus multipart framing
    throughput = size / seconds / 1e6
    line = (
        f"- {datetime.now(UTC):%Y-%m-%d}: {size / 2**30:.2f} GiB sparse file, peak RSS growth "
        f"{growth / 1e6:.1f} MB, {throughput:.0f} MB/s over loopback "
        f"(client and sink in one process; Python {platform.python_version()}, "
        f"aiohttp {aiohttp.__version__})"
    )
    print(f"\n{line}")
    if os.environ.get("HREC_RECORD_BENCHMARKS") == "1":
        record_benchmark(line)
    assert growth < 50e6, line


def record_benchmark(line: str) -> None:
    """Append ``line`` to the "Streamed upload memory" section of docs/benchmarks.md."""
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    lines = text.rstrip("\n").split("\n")
    if BENCH_HEADING not in lines:
        lines += ["", BENCH_HEADING, ""]
    start = lines.index(BENCH_HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    if end == start + 1:
        lines.insert(end, "")
        end += 1
    lines.insert(end, line)
    BENCHMARKS.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS.write_text("\n".join(lines) + "\n", encoding="utf-8")
