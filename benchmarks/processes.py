"""The simulator and the daemon as separate processes, and what the kernel says they cost.

CPU time is the process's own accounting (user + system, all its threads,
from psutil), so the simulator's and the benchmark's work is never counted
as the daemon's. Peak RSS is the kernel's high-water mark (VmHWM).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parent.parent
BENCH_PASSWORD = "bench-Secret-Pw-4821"
BENCH_USER = "user"
BENCH_TENANT = "demo"


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; raise TimeoutError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class CpuSample:
    """A process's CPU seconds (user, system) and resident memory at one moment."""

    user_seconds: float
    system_seconds: float
    rss_bytes: int

    @property
    def cpu_seconds(self) -> float:
        return self.user_seconds + self.system_seconds


def sample(pid: int) -> CpuSample:
    """CPU seconds so far and current RSS of process ``pid``."""
    process = psutil.Process(pid)
    times = process.cpu_times()
    return CpuSample(times.user, times.system, process.memory_info().rss)


def context_switches(pid: int) -> int:
    """Context switches so far, voluntary and not, summed over the threads the process has now.

    Each one is a thread giving up (or losing) the CPU: GIL handoffs between
    the event loop and worker threads show up here before anywhere else.
    """
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:  # the thread ended meanwhile
            continue
        for line in lines:
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                total += int(line.split()[1])
    return total


def peak_rss(pid: int) -> int:
    """The kernel's high-water mark of the process's resident memory (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM line")


DAEMON_SOURCE = REPO / "daemon"


def _environment(source: Path = DAEMON_SOURCE) -> dict[str, str]:
    # The daemon reads HREC_* from the environment: none of the caller's may leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
    return env


@dataclass
class Simulator:
    """A ``hrec-ingest simulator`` process and the URL it answers on."""

    proc: subprocess.Popen[bytes]
    url: str

    def stats(self) -> dict[str, Any]:
        """``GET /_sim/stats``: requests by route and status, tasks, tokens."""
        with urllib.request.urlopen(f"{self.url}/_sim/stats", timeout=10) as answer:
            stats: dict[str, Any] = json.load(answer)
        return stats

    def answering(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the simulator exited with status {self.proc.returncode}")
        try:
            self.stats()
        except (urllib.error.URLError, ConnectionError):
            return False
        return True


@contextmanager
def simulator(flags: Sequence[str], log_path: Path) -> Iterator[Simulator]:
    """Start the simulator with ``flags`` on a free port; stop it (SIGTERM) on leaving."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "hrec_ingest",
        "simulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--user",
        f"{BENCH_TENANT}:{BENCH_USER}:{BENCH_PASSWORD}",
        "--expires-in",
        "300",
        *flags,
    ]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, env=_environment()
        )
    sim = Simulator(proc, f"http://127.0.0.1:{port}")
    try:
        wait_until(sim.answering, 30, "the simulator to answer")
        yield sim
    finally:
        _stop(proc)


def write_config(path: Path, settings: Mapping[str, str]) -> Path:
    """A dotenv config file holding ``settings``."""
    path.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
    return path


@dataclass
class Daemon:
    """A ``hrec-ingest run`` process and its JSON log."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError(
                f"the daemon exited with status {self.proc.returncode}; last lines:\n"
                + "\n".join(tail)
            )


@contextmanager
def daemon(
    config: Path, log_path: Path, cwd: Path, source: Path = DAEMON_SOURCE
) -> Iterator[Daemon]:
    """Start ``hrec-ingest run --config CONFIG``; stop it (SIGTERM, then SIGKILL) on leaving.

    ``source`` is the folder holding the ``hrec_ingest`` package to run, so
    that two versions can be compared against the same simulator.
    """
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hrec_ingest", "run", "--config", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_environment(source),
            cwd=cwd,
        )
    try:
        yield Daemon(proc, log_path)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@contextmanager
def py_spy(pid: int, out: Path, rate: int = 250) -> Iterator[None]:
    """Sample ``pid`` with py-spy into ``out``, collapsed-stack format.

    ``--gil`` keeps only the thread holding the GIL: where the Python time
    goes. Time in system calls made without the GIL (fsync, reads) does not
    show; compare user and system CPU for that.

    py-spy is in the ``bench`` extra; it reads the process's memory with
    ptrace, so it needs root or ``kernel.yama.ptrace_scope=0``.
    """
    command = [
        str(Path(sys.executable).with_name("py-spy")),
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(out),
        "--nonblocking",
        "--gil",
    ]
    with out.with_suffix(".log").open("wb") as log_file:
        proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
