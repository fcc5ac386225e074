"""Deployments for the reliability suites: the e2e harness, with folders that may live elsewhere.

A :class:`Site` is the harness's Deployment (real daemon processes, the
simulator in the test's event loop, real folders) whose OUTPUT_DIR,
ARCHIVE_DIR, FAILED_DIR and STATE_DIR may sit on another file system than
the inbox, so that every move is a copy and a delete.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from e2e.harness import PASSWORD, DaemonProcess, Deployment, demo_settings, make_wav, visible_files
from hrec_ingest.simulator import SimulatorOptions, running_simulator


@dataclass
class Site(Deployment):
    """A Deployment whose folders other than the inbox live under ``elsewhere`` when it is set."""

    elsewhere: Path | None = None

    def _home(self) -> Path:
        return self.elsewhere if self.elsewhere is not None else self.root

    @property
    def out(self) -> Path:
        return self._home() / "out"

    @property
    def archive(self) -> Path:
        return self._home() / "archive"

    @property
    def failed(self) -> Path:
        return self._home() / "failed"

    @property
    def state(self) -> Path:
        return self._home() / "state"

    def archived(self) -> int:
        """How many audio files are in ARCHIVE_DIR."""
        return len(visible_files(self.archive))


def simulator_options(**overrides: Any) -> SimulatorOptions:
    """Quick tasks, the harness's account, a fixed seed; ``overrides`` set faults and timings."""
    values: dict[str, Any] = {
        "users": {"demo": {"user": PASSWORD}},
        "pending_seconds": 0.2,
        "processing_seconds": 0.3,
        "seed": 2026,
        **overrides,
    }
    return SimulatorOptions(**values)


@asynccontextmanager
async def deployed(
    root: Path,
    options: SimulatorOptions,
    *,
    elsewhere: Path | None = None,
    settings: dict[str, str] | None = None,
) -> AsyncIterator[Site]:
    """A simulator on 127.0.0.1:0 and a Site pointed at it; daemons left running are killed."""
    root.mkdir(parents=True, exist_ok=True)
    async with running_simulator(options) as sim:
        site = Site(root, sim, elsewhere=elsewhere)
        site.settings = {**demo_settings(site), **(settings or {})}
        try:
            yield site
        finally:
            for daemon in site.daemons:
                if daemon.alive():
                    daemon.kill()


def drop_wavs(site: Site, count: int, first: int = 0) -> dict[str, bytes]:
    """``count`` distinct one-second WAVs (``call-<first>.wav`` on) dropped into the inbox."""
    return {
        f"call-{i:04d}.wav": make_wav(site.inbox / f"call-{i:04d}.wav", seed=i)
        for i in range(first, first + count)
    }


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for METRICS_ADDR)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LogTail:
    """Reads a daemon's JSON log as it grows, without reading it all again each time."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.path = daemon.log_path
        self._offset = 0
        self._partial = b""
        self.events: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """The log lines written since the last call."""
        with self.path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        *complete, self._partial = (self._partial + data).split(b"\n")
        fresh: list[dict[str, Any]] = []
        for raw in complete:
            try:
                fresh.append(json.loads(raw))
            except ValueError:
                fresh.append({"event": "unparsed", "text": raw.decode(errors="replace")})
        self.events.extend(fresh)
        return fresh

    def seen(self, event: str) -> bool:
        """Whether a line with this event has been written (reads what is new first)."""
        self.read()
        return any(line.get("event") == event for line in self.events)


async def until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Wait for ``condition`` for at most ``timeout`` seconds; whether it came to hold."""

    async def check() -> bool:
        return condition()

    return await until_async(check, timeout, interval)


async def until_async(
    condition: Callable[[], Awaitable[bool]], timeout: float, interval: float = 0.1
) -> bool:
    """``until`` for a condition that has to await (an HTTP probe, say)."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True
