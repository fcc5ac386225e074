"""Plain-aiohttp helpers for the simulator's tests: tokens, tasks, uploads, audio, waits."""

from __future__ import annotations

import asyncio
import io
import json
import time
import wave
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from hrec_ingest.simulator import RunningSimulator

PASSWORD = "Psw12345!"
# The start_sim fixture: SimulatorOptions keyword arguments in, a running simulator out.
StartSim = Callable[..., Awaitable[RunningSimulator]]


class ManualClock:
    """A monotonic clock that moves only when told; starts at the real one's reading."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def token_url(sim: RunningSimulator, tenant: str = "demo") -> str:
    return f"{sim.url}/realms/{tenant}/protocol/openid-connect/token"


async def login(
    http: aiohttp.ClientSession,
    sim: RunningSimulator,
    tenant: str = "demo",
    username: str = "user",
    password: str = PASSWORD,
) -> dict[str, Any]:
    form = {
        "client_id": "browser_client",
        "grant_type": "password",
        "username": username,
        "password": password,
    }
    async with http.post(token_url(sim, tenant), data=form) as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def bearer(
    http: aiohttp.ClientSession, sim: RunningSimulator, tenant: str = "demo"
) -> dict[str, str]:
    """Authorization headers with a fresh access token of ``tenant``."""
    token = (await login(http, sim, tenant))["access_token"]
    return {"Authorization": f"Bearer {token}"}


def task_json(files: list[str], language: str = "Hebrew", **overrides: Any) -> dict[str, Any]:
    """A valid TaskMetadata object for ``files``, as the guide's example 3.4.1 builds it."""
    task: dict[str, Any] = {
        "tenant": "demo",
        "taskName": "Offline Upload Task",
        "taskType": "offline",
        "taskCreationTime": "15.07.2025 10:30",
        "taskUpdateTime": "15.07.2025 10:30",
        "taskStatus": "sttPending",
        "baseLanguages": [language],
        "meetings": [
            {"files": [{"file": name, "baseLanguage": language}], "aiGenerationMode": "auto"}
            for name in files
        ],
        "docSections": [],
        "supervisor": {"name": "", "email": "admin@example.com"},
    }
    task.update(overrides)
    return task


def form(task: Any, files: dict[str, bytes], task_first: bool = True) -> aiohttp.FormData:
    """A multipart body: the ``task`` field and one ``soundBlob`` part per file."""
    data = aiohttp.FormData()
    text = task if isinstance(task, str) else json.dumps(task)
    if task_first:
        data.add_field("task", text)
    for name, content in files.items():
        # BytesIO: aiohttp warns about large raw bytes bodies (and warnings are errors).
        data.add_field("soundBlob", io.BytesIO(content), filename=name, content_type="audio/wav")
    if not task_first:
        data.add_field("task", text)
    return data


async def submit(
    http: aiohttp.ClientSession,
    sim: RunningSimulator,
    headers: dict[str, str],
    files: dict[str, bytes],
    language: str = "Hebrew",
    **overrides: Any,
) -> str:
    """Submit a valid task for ``files``; returns its taskId."""
    task = task_json(list(files), language, **overrides)
    async with http.post(f"{sim.url}/hrec", data=form(task, files), headers=headers) as response:
        assert response.status == 200, await response.text()
        task_id: str = (await response.json())["taskId"]
        return task_id


async def get_json(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], **params: str
) -> tuple[int, Any]:
    async with http.get(url, headers=headers, params=params) as response:
        return response.status, await response.json(content_type=None)


def wav_bytes(seconds: float, rate: int = 8000, seed: int = 0) -> bytes:
    """A real mono 16-bit PCM WAV of ``seconds``; ``seed`` varies its content."""
    frames = int(seconds * rate)
    samples = bytes((i * 7 + seed) % 256 for i in range(256)) * (frames * 2 // 256 + 1)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples[: frames * 2])
    return buffer.getvalue()


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float = 5.0, interval: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail the test if it does not within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
