"""One run of the real daemon: simulator and daemon started, files dropped, all settled."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.measure import LogFollower, latency_summary, requests_per_file, requests_since
from benchmarks.processes import (
    BENCH_PASSWORD,
    BENCH_TENANT,
    BENCH_USER,
    DAEMON_SOURCE,
    CpuSample,
    Daemon,
    context_switches,
    daemon,
    peak_rss,
    py_spy,
    sample,
    simulator,
    wait_until,
    write_config,
)
from benchmarks.profiles import Profile
from benchmarks.workload import Workload, drop, wav_bytes


@dataclass(frozen=True)
class Folders:
    """The daemon's folders of one run, all below ``root``."""

    root: Path

    def settings(self) -> dict[str, str]:
        return {
            "FILES_DIR": str(self.root / "inbox"),
            "OUTPUT_DIR": str(self.root / "out"),
            "ARCHIVE_DIR": str(self.root / "archive"),
            "FAILED_DIR": str(self.root / "failed"),
            "STATE_DIR": str(self.root / "state"),
        }


def daemon_config(profile: Profile, url: str, folders: Folders) -> dict[str, str]:
    """Everything the daemon's config file holds for a run against ``url``."""
    return {
        "KEYCLOAK_BASE_URL": url,
        "API_BASE_URL": url,
        "TENANT": BENCH_TENANT,
        "USERNAME": BENCH_USER,
        "PASSWORD": BENCH_PASSWORD,
        "SUPERVISOR_EMAIL": "bench@example.com",
        "BASE_LANGUAGE": "English",
        **folders.settings(),
        **profile.daemon_settings(),
    }


def settle_timeout(files: int) -> float:
    """How long a run may take before it is declared stuck: generous, never hopeful."""
    return 120.0 + files / 5.0


WARM_UP = "warm-up.wav"


def warm_up(proc: Daemon, follower: LogFollower, root: Path, inbox: Path) -> None:
    """Send one file through before measuring, and wait until it is archived.

    The clock then starts with the token obtained, connections open and the
    watcher surely watching: a file dropped in the instant between the
    daemon's first scan and the start of its change notifications is only
    found by the next periodic rescan.
    """
    staging = root / "warm-up"
    staging.mkdir(exist_ok=True)
    (staging / WARM_UP).write_bytes(wav_bytes(1.0, b"warm-up"))
    os.rename(staging / WARM_UP, inbox / WARM_UP)

    def archived() -> bool:
        proc.check_alive()
        follower.poll()
        return WARM_UP in follower.exported

    wait_until(archived, 120, "the warm-up file to be archived")


def run_daemon(
    profile: Profile,
    workload: Workload,
    root: Path,
    rate: float = 0.0,
    spy: Path | None = None,
    source: Path = DAEMON_SOURCE,
) -> dict[str, Any]:
    """Drop the workload into a fresh daemon's inbox and measure until every file has left it."""
    folders = Folders(root)
    root.mkdir(parents=True, exist_ok=True)
    with simulator(profile.simulator_flags, root / "simulator.log") as sim:
        config = write_config(root / "config.env", daemon_config(profile, sim.url, folders))
        with daemon(config, root / "daemon.log", root, source) as proc:
            follower = LogFollower(proc.log_path)

            def ready() -> bool:
                proc.check_alive()
                follower.poll()
                return follower.ready_at is not None

            wait_until(ready, 60, "the daemon to log daemon.ready")
            warm_up(proc, follower, root, Path(folders.settings()["FILES_DIR"]))
            warm_stats = sim.stats()
            profiling = py_spy(proc.pid, spy) if spy else contextlib.nullcontext()
            with profiling:
                switches = context_switches(proc.pid)
                before = sample(proc.pid)
                sim_before = sample(sim.proc.pid)
                dropped = drop(workload, Path(folders.settings()["FILES_DIR"]), rate=rate)
                expected = len(dropped)

                def settled() -> bool:
                    proc.check_alive()
                    follower.poll()
                    return follower.settled >= expected + 1  # the warm-up file too

                wait_until(settled, settle_timeout(expected), f"{expected} files to leave", 0.1)
                after = sample(proc.pid)
                switches = context_switches(proc.pid) - switches
                sim_after = sample(sim.proc.pid)
            peak = peak_rss(proc.pid)
            stats = requests_since(warm_stats, sim.stats())
    result = summarize(
        profile, workload, dropped, follower, stats, before, after, peak, sim_before, sim_after
    )
    result["context_switches_per_file"] = round(switches / len(dropped), 1)
    return result


def summarize(
    profile: Profile,
    workload: Workload,
    dropped: dict[str, float],
    follower: LogFollower,
    stats: dict[str, Any],
    before: CpuSample,
    after: CpuSample,
    peak: int,
    sim_before: CpuSample,
    sim_after: CpuSample,
) -> dict[str, Any]:
    """The figures of one daemon run, JSON-ready."""
    files = len(dropped)
    finished = {
        name: at for name, at in {**follower.exported, **follower.failed}.items() if name in dropped
    }
    first_drop = min(dropped.values())
    last_done = max(finished.values())
    latencies = [finished[name] - dropped[name] for name in dropped if name in finished]
    wall = last_done - first_drop
    cpu = after.cpu_seconds - before.cpu_seconds
    return {
        "client": "daemon",
        "profile": profile.name,
        "files": files,
        "archived": len(follower.exported.keys() & dropped.keys()),
        "failed": len(follower.failed.keys() & dropped.keys()),
        "seconds": round(wall, 3),
        "files_per_second": round(files / wall, 2),
        "latency_seconds": latency_summary(latencies),
        "requests_per_file": requests_per_file(stats, files),
        "cpu_ms_per_file": round(cpu * 1000 / files, 3),
        "cpu_ms_per_file_user_system": [
            round((after.user_seconds - before.user_seconds) * 1000 / files, 3),
            round((after.system_seconds - before.system_seconds) * 1000 / files, 3),
        ],
        "cpu_utilisation": round(cpu / wall, 3),
        "rss_start_mb": round(before.rss_bytes / 1e6, 1),
        "rss_peak_mb": round(peak / 1e6, 1),
        "simulator_cpu_ms_per_file": round(
            (sim_after.cpu_seconds - sim_before.cpu_seconds) * 1000 / files, 3
        ),
        "errors_logged": len(follower.errors),
        "settings": {k: v for k, v in profile.daemon_settings().items()},
        "bytes_per_file": workload.bytes_each,
        "audio_seconds_per_file": workload.audio_seconds,
    }
