"""What the scale benchmarks (inflight, startup, detection) share.

They differ from ``benchmarks.run`` in one way: the simulator runs in the
benchmark's own event loop, so that a benchmark can seed it with tens of
thousands of tasks directly and read its request log; the daemon is still a
separate ``hrec-ingest run`` process, whose memory and CPU are its own.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.processes import BENCH_PASSWORD, BENCH_TENANT, BENCH_USER, REPO, free_port
from hrec_ingest.journal import Journal
from hrec_ingest.simulator import SimulatorOptions

SUPERVISOR = "bench@example.com"
# Linux's value; Python's socket module does not name it.
SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)

# tests/samples holds the seeding helpers the poller's tests use too.
sys.path.insert(0, str(REPO / "tests"))


def simulator_options(**overrides: Any) -> SimulatorOptions:
    """The simulator of the scale benchmarks: the benchmark account, no faults."""
    return SimulatorOptions(users={BENCH_TENANT: {BENCH_USER: BENCH_PASSWORD}}, seed=1, **overrides)


@dataclass(frozen=True)
class Layout:
    """The daemon's folders below one root, and its settings for a simulator at ``url``."""

    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def settings(self, url: str, metrics_port: int, **overrides: str) -> dict[str, str]:
        return {
            "KEYCLOAK_BASE_URL": url,
            "API_BASE_URL": url,
            "TENANT": BENCH_TENANT,
            "USERNAME": BENCH_USER,
            "PASSWORD": BENCH_PASSWORD,
            "SUPERVISOR_EMAIL": SUPERVISOR,
            "BASE_LANGUAGE": "English",
            "FILES_DIR": str(self.inbox),
            "OUTPUT_DIR": str(self.root / "out"),
            "ARCHIVE_DIR": str(self.root / "archive"),
            "FAILED_DIR": str(self.root / "failed"),
            "STATE_DIR": str(self.state),
            "METRICS_ADDR": f"127.0.0.1:{metrics_port}",
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "info",
            **overrides,
        }

    def create_journal(self) -> Path:
        """An empty journal with the current schema; returns its file."""
        self.state.mkdir(parents=True, exist_ok=True)
        journal = Journal.open(self.state)
        path = journal.path
        journal.close()
        return path


def small_wav(seconds: float = 0.2) -> bytes:
    """A valid mono 8 kHz WAV of silence."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0" * int(seconds * 8000) * 2)
    return buffer.getvalue()


def write_audio(path: Path, template: bytes, serial: int) -> None:
    """``template`` with its last samples set from ``serial``: distinct content, still a WAV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(template[:-8] + serial.to_bytes(8, "little"))


def tree_paths(count: int, per_folder: int = 100) -> Iterator[str]:
    """``count`` inbox paths spread over sub-folders two levels deep, as a call centre's are."""
    for i in range(count):
        folder = i // per_folder
        yield f"site-{folder // 10:03d}/day-{folder % 10:02d}/call-{i:06d}.wav"


@dataclass
class DaemonProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    started_at: float  # time.time() just before the process was started

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-8:]
            raise RuntimeError(
                f"the daemon exited with status {self.proc.returncode}:\n" + "\n".join(tail)
            )

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if isinstance(line, dict) and line.get("event") == name:
                found.append(line)
        return found


@contextmanager
def daemon_process(
    root: Path, settings: Mapping[str, str], extra_env: Mapping[str, str] | None = None
) -> Iterator[DaemonProcess]:
    """``hrec-ingest run`` with ``settings`` as its config; SIGTERM (then SIGKILL) on leaving."""
    config = root / "config.env"
    config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
    env["PYTHONPATH"] = str(REPO / "daemon")
    env.update(extra_env or {})
    log_path = root / "daemon.log"
    with log_path.open("wb") as log_file:
        started_at = time.time()
        proc = subprocess.Popen(
            [sys.executable, "-m", "hrec_ingest", "run", "--config", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
        )
    try:
        yield DaemonProcess(proc, log_path, started_at)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


class NotifySocket:
    """A stand-in for systemd's notification socket: when each field first arrived.

    Arrival times are the kernel's (SO_TIMESTAMP), so reading the socket late
    does not make READY=1 look late.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.first: dict[str, float] = {}
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        self._sock.bind(str(path))
        self._sock.setblocking(False)

    def drain(self) -> None:
        """Read every datagram waiting; note when each new field arrived (epoch seconds)."""
        while True:
            try:
                datagram, ancillary, _, _ = self._sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except BlockingIOError:
                return
            arrived = time.time()
            for level, kind, data in ancillary:
                if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMP):
                    seconds, micros = struct.unpack("qq", data[:16])
                    arrived = seconds + micros / 1e6
            for field in datagram.decode(errors="replace").splitlines():
                self.first.setdefault(field, arrived)

    def seen(self, field: str) -> float | None:
        """When ``field`` (e.g. ``READY=1``) first arrived, or None."""
        self.drain()
        return self.first.get(field)

    def close(self) -> None:
        self._sock.close()


async def http_ok(url: str) -> bool:
    """Whether ``url`` answers 200 right now."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            async with session.get(url) as answer:
                return answer.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def wait_ready(daemon: DaemonProcess, url: str, timeout: float) -> float:
    """Ask ``url`` (``/readyz``) until it answers 200; return time.time() then."""
    deadline = time.monotonic() + timeout
    while not await http_ok(url):
        daemon.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer 200 within {timeout:.0f} s")
        await asyncio.sleep(0.02)
    return time.time()


async def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.02
) -> float:
    """Poll ``condition`` until it holds; return time.time() then. TimeoutError names ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)
    return time.time()


def load_average() -> str:
    """The machine's load (1, 5, 15 min) and cores, to report beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def metrics_port() -> int:
    return free_port()
