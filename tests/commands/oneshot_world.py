"""For the submit and fetch tests: the simulator over a real socket, real folders, the real CLI.

The simulator serves from a thread of its own (its own event loop), so that
the command can run as it does for a user: in this process through click's
runner (fast; its asyncio.run, signal handlers and exit status are the real
ones) or as ``python -m hrec_ingest ...`` in a subprocess (for the tests of
output streams and signals). After a command ends, the test reads the
simulator's state directly: which bytes arrived in which task.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import structlog
from click.testing import CliRunner

from hrec_ingest.fsops import use_umask
from hrec_ingest.miaop import MiaopClient, TokenManager, UploadPart, make_session
from hrec_ingest.miaop.models import MeetingDesc, MeetingFile, SupervisorInfo, TaskMetadata
from hrec_ingest.simulator import RunningSimulator, SimulatorOptions, running_simulator
from hrec_ingest.simulator.tasks import TaskRecord
from samples.audio import wav

PASSWORD = "Oneshot-Secret-Pw-9182"
COMMAND_TIMEOUT = 60.0
# Every wait of the command is short: the simulator answers within a second.
FAST = {
    "POLL_INITIAL_DELAY_SECONDS": "0.1",
    "POLL_INTERVAL_SECONDS": "0.1",
    "POLL_MAX_INTERVAL_SECONDS": "0.2",
    "HTTP_TIMEOUT_SECONDS": "10",
    "HTTP_RETRY_MAX_SECONDS": "5",
    "METRICS_ADDR": "",
}


@dataclass(frozen=True)
class CommandRun:
    """What a finished command left: exit status and both output streams."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class SimulatorThread:
    """A simulator serving on 127.0.0.1 from its own thread and event loop."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.options = options
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._sim: RunningSimulator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="simulator", daemon=True)

    @property
    def sim(self) -> RunningSimulator:
        assert self._sim is not None
        return self._sim

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise AssertionError("the simulator did not start within 10 s")
        if self._failure is not None:
            raise self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test by __enter__
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with running_simulator(self.options) as sim:
            self._sim = sim
            self._ready.set()
            await self._stop.wait()


@dataclass
class World:
    """One simulator, one folder tree and config file, and commands run against them."""

    root: Path
    sim: RunningSimulator
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def calls(self) -> Path:
        return self.root / "calls"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def config(self) -> Path:
        return self.root / "config.env"

    def write_config(self) -> None:
        self.config.write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))

    def add_wavs(self, *names: str) -> dict[str, str]:
        """Distinct WAV files in the calls folder; returns name -> sha256."""
        self.calls.mkdir(exist_ok=True)
        digests = {}
        for n, name in enumerate(names, start=1):
            path = wav(self.calls / name, seconds=1.0 + n / 4)
            digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
        return digests

    def invoke(self, command: click.Command, *args: str) -> CommandRun:
        """Run a command in this process, with this world's config file."""
        self.write_config()
        result = CliRunner().invoke(command, [*args, "--config", str(self.config)])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return CommandRun(result.exit_code, result.stdout, result.stderr)

    def popen(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``python -m hrec_ingest ARGS --config <this config>`` in the world's folder."""
        self.write_config()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
        return subprocess.Popen(
            [sys.executable, "-m", "hrec_ingest", *args, "--config", str(self.config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.root,
            env=env,
        )

    def run(self, *args: str) -> CommandRun:
        """Run the command in a subprocess to its end."""
        return finish(self.popen(*args))

    def task(self, task_id: str) -> TaskRecord:
        """The simulator's record of a task (KeyError if it never arrived)."""
        return self.sim.state.tasks[task_id]


def finish(proc: subprocess.Popen[bytes], timeout: float = COMMAND_TIMEOUT) -> CommandRun:
    """Wait for a started command to end (killing it after ``timeout`` seconds)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the command did not end within {timeout} s") from None
    return CommandRun(proc.returncode, out.decode(), err.decode())


@contextmanager
def world_at(
    root: Path,
    *,
    error_files: Sequence[str] = (),
    processing_seconds: float = 0.2,
) -> Iterator[World]:
    """A simulator (tenant ``demo``, user ``user``) and a config file pointing at it."""
    options = SimulatorOptions(
        users={"demo": {"user": PASSWORD}},
        pending_seconds=0.1,
        processing_seconds=processing_seconds,
        error_files=tuple(error_files),
        seed=11,
    )
    with SimulatorThread(options) as thread:
        world = World(root, thread.sim)
        world.settings = {
            "KEYCLOAK_BASE_URL": thread.sim.url,
            "API_BASE_URL": thread.sim.url,
            "TENANT": "demo",
            "USERNAME": "user",
            "PASSWORD": PASSWORD,
            "SUPERVISOR_EMAIL": "supervisor@example.com",
            "BASE_LANGUAGE": "English",
            "FILES_DIR": str(root / "inbox"),
            "OUTPUT_DIR": str(world.out),
            "ARCHIVE_DIR": str(root / "archive"),
            "FAILED_DIR": str(root / "failed"),
            "STATE_DIR": str(world.state),
            **FAST,
        }
        world.write_config()
        yield world


@contextmanager
def isolated_process_state(monkeypatch: Any, cwd: Path) -> Iterator[None]:
    """What an in-process command may change, put back afterwards: logging, cwd, HREC_*."""
    for key in [k for k in os.environ if k.startswith("HREC_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(cwd)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    umask = os.umask(0o027)
    os.umask(umask)
    try:
        yield
    finally:
        os.umask(umask)
        use_umask(0o027)
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()


def transcript_files(folder: Path) -> dict[str, Path]:
    """Visible files below ``folder`` by their path relative to it."""
    return {
        str(p.relative_to(folder)): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def json_without_export_time(path: Path) -> dict[str, Any]:
    """A transcript JSON without ``exportedAt`` (the one field that differs per export)."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    document.pop("exportedAt")
    return document


def read_line(proc: subprocess.Popen[bytes], timeout: float = COMMAND_TIMEOUT) -> str:
    """The next line of a running command's standard output, within ``timeout`` seconds."""
    stream = proc.stdout
    assert stream is not None
    box: list[bytes] = []
    # readline() has no timeout of its own: a thread waits for it, the test only so long.
    reader = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box:
        proc.kill()
        raise AssertionError(f"no line on standard output within {timeout} s")
    return box[0].decode().strip()


def send_task(
    world: World,
    files: Sequence[Path],
    *,
    task_id: str | None = None,
    names: Sequence[str] = (),
) -> str:
    """Submit ``files`` to the simulator as some other program would; returns the taskId.

    ``names`` are the names the server is told (default: the files' own), sent as
    they are, even names no file system would take.
    """
    names = list(names) or [path.name for path in files]
    task = TaskMetadata(
        taskId=task_id,
        tenant="demo",
        taskName="sent from elsewhere",
        taskCreationTime="21.11.2026 10:00",
        baseLanguages=["English"],
        meetings=[MeetingDesc(files=[MeetingFile(file=n, baseLanguage="English")]) for n in names],
        supervisor=SupervisorInfo(email="someone@example.com"),
    )
    parts = [UploadPart(p, n, p.stat().st_size) for p, n in zip(files, names, strict=True)]

    async def send() -> str:
        context = ssl.create_default_context()
        async with make_session(context, pool_limit=2, timeout_seconds=10) as session:
            tokens = TokenManager(session, world.sim.url, "demo", "user", PASSWORD)
            return await MiaopClient(session, world.sim.url, tokens).submit_task(task, parts)

    return asyncio.run(send())


class StoppedClock:
    """The simulator's clock, held still: its tasks stay where they are until moved on."""

    def __init__(self, world: World) -> None:
        self.now = world.sim.state.clock()
        world.sim.state.clock = self

    def __call__(self) -> float:
        return self.now

    def advance_once(self, condition: Callable[[], bool], seconds: float) -> threading.Thread:
        """From a thread: as soon as ``condition()`` holds, move the clock on by ``seconds``."""

        def watch() -> None:
            deadline = time.monotonic() + COMMAND_TIMEOUT
            while not condition() and time.monotonic() < deadline:
                time.sleep(0.01)
            self.now += seconds

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        return watcher
