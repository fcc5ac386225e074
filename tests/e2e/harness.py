"""End-to-end harness: the real daemon process, the simulator over a real socket, real folders.

The simulator runs in the test's own event loop so that a test can read its
state (which bytes arrived in which task) directly; the daemon is a separate
``python -m hrec_ingest run`` process that can be killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from hrec_ingest.simulator import RunningSimulator

PASSWORD = "e2e-Secret-Pw-7731"
FAST_SETTINGS = {
    "STABLE_SECONDS": "0.5",
    "BATCH_MAX_WAIT_SECONDS": "0.5",
    "POLL_INITIAL_DELAY_SECONDS": "0.2",
    "POLL_INTERVAL_SECONDS": "0.2",
    "POLL_MAX_INTERVAL_SECONDS": "2",
    "RESCAN_SECONDS": "2",
    "METRICS_ADDR": "",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "debug",
    "HTTP_TIMEOUT_SECONDS": "10",
    "HTTP_RETRY_MAX_SECONDS": "20",
}


def make_wav(path: Path, seconds: float = 1.0, seed: int = 0, rate: int = 8000) -> bytes:
    """A real mono 16-bit WAV whose samples depend on ``seed`` (distinct bytes per file)."""
    rng = random.Random(seed)
    frames = bytes(rng.getrandbits(8) for _ in range(int(seconds * rate) * 2))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return path.read_bytes()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def visible_files(root: Path) -> list[Path]:
    """Regular files below ``root`` that a consumer would see (hidden names excluded)."""
    if not root.exists():
        return []
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


@dataclass
class DaemonProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append({"event": "unparsed", "text": raw})
        return lines

    def events(self, name: str) -> list[dict[str, object]]:
        return [line for line in self.log_lines() if line.get("event") == name]


@dataclass
class Deployment:
    """One set of folders, one simulator, and daemons started against them."""

    root: Path
    sim: RunningSimulator
    settings: dict[str, str] = field(default_factory=dict)
    daemons: list[DaemonProcess] = field(default_factory=list)

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def archive(self) -> Path:
        return self.root / "archive"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def write_config(self) -> Path:
        config = self.root / "config.env"
        lines = [f"{key}={value}" for key, value in self.settings.items()]
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self, failpoints: str = "", extra_env: dict[str, str] | None = None) -> DaemonProcess:
        config = self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
        env["HREC_FAILPOINTS"] = failpoints
        env.update(extra_env or {})
        log_path = self.root / f"daemon-{len(self.daemons)}.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, "-m", "hrec_ingest", "run", "--config", str(config)],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
            )
        daemon = DaemonProcess(proc, log_path)
        self.daemons.append(daemon)
        return daemon

    async def stop(self, daemon: DaemonProcess, timeout: float = 20) -> int:
        daemon.proc.send_signal(signal.SIGTERM)
        await wait_for(lambda: not daemon.alive(), timeout, "the daemon to stop on SIGTERM")
        return daemon.proc.returncode

    def tenant_out(self, tenant: str = "demo") -> Path:
        return self.out / tenant

    def uploads_of(self, digest: str) -> int:
        """In how many accepted tasks the simulator received these bytes."""
        return self.sim.state.uploads_by_sha256[digest]


def demo_settings(d: Deployment, url: str | None = None) -> dict[str, str]:
    """The settings of the single-tenant ``demo`` deployment: d's folders, the fast timings.

    ``url`` is the server's base URL when it is not ``d.sim.url`` (a proxy in front of it).
    """
    url = url or d.sim.url
    return {
        "KEYCLOAK_BASE_URL": url,
        "API_BASE_URL": url,
        "TENANT": "demo",
        "USERNAME": "user",
        "PASSWORD": PASSWORD,
        "SUPERVISOR_EMAIL": "supervisor@example.com",
        "BASE_LANGUAGE": "English",
        "FILES_DIR": str(d.inbox),
        "OUTPUT_DIR": str(d.out),
        "ARCHIVE_DIR": str(d.archive),
        "FAILED_DIR": str(d.failed),
        "STATE_DIR": str(d.state),
        **FAST_SETTINGS,
    }


def transcript_files(root: Path) -> list[Path]:
    """The visible files below ``root`` except the daily manifests (``manifest-*.jsonl``)."""
    return [
        p
        for p in visible_files(root)
        if not (p.name.startswith("manifest-") and p.suffix == ".jsonl")
    ]


def manifest_lines(root: Path) -> list[dict[str, object]]:
    """Every line of every daily manifest below ``root`` (OUTPUT_DIR), parsed."""
    lines: list[dict[str, object]] = []
    for path in sorted(root.rglob("manifest-*.jsonl")):
        lines.extend(json.loads(line) for line in path.read_text().splitlines() if line)
    return lines


Check = Callable[[], Awaitable[None]]


def output_stems(root: Path) -> Iterator[str]:
    for path in visible_files(root):
        if path.suffix == ".json":
            yield str(path.relative_to(root).with_suffix(""))
