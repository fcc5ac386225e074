"""The same workload through the baseline client: one run of the script per batch, in turn.

A user of the reference script puts up to BATCH_MAX_FILES files in a folder
and runs the script; the next folder waits for it to finish. All files are
there from the start (as in the daemon's run, where they are dropped at
once), so a file's latency is from the start to the moment its results are
saved. The simulator is a fresh process with the same profile.
"""

from __future__ import annotations

import contextlib
import io
import os
import time
from pathlib import Path
from typing import Any

from benchmarks import baseline_client
from benchmarks.measure import latency_summary, requests_per_file
from benchmarks.processes import BENCH_PASSWORD, BENCH_TENANT, BENCH_USER, sample, simulator
from benchmarks.profiles import Profile
from benchmarks.workload import Workload


def stage_batches(workload: Workload, names: list[str], root: Path, batch_files: int) -> list[Path]:
    """Move the files into one folder per batch, as a user would before each run."""
    folders: list[Path] = []
    for start in range(0, len(names), batch_files):
        folder = root / f"batch-{start // batch_files:05d}"
        folder.mkdir(parents=True)
        for name in names[start : start + batch_files]:
            os.rename(workload.staging / name, folder / name)
        folders.append(folder)
    return folders


def run_baseline(
    profile: Profile, workload: Workload, root: Path, files: int, batch_files: int
) -> dict[str, Any]:
    """Run the reference workflow over the first ``files`` files of the workload."""
    names = list(workload.names[:files])
    folders = stage_batches(workload, names, root / "batches", batch_files)
    done: dict[str, float] = {}
    with simulator(profile.simulator_flags, root / "simulator.log") as sim:
        config = {
            "KEYCLOAK_BASE_URL": sim.url,
            "API_BASE_URL": sim.url,
            "TENANT": BENCH_TENANT,
            "USERNAME": BENCH_USER,
            "PASSWORD": BENCH_PASSWORD,
            "SUPERVISOR_EMAIL": "bench@example.com",
            "BASE_LANGUAGE": "English",
            "POLL_INTERVAL_SECONDS": str(profile.poll_interval),
        }
        own_before = sample(os.getpid())
        started = time.time()
        for folder in folders:
            with contextlib.redirect_stdout(io.StringIO()):
                saved = baseline_client.run(
                    {**config, "FILES_DIR": str(folder)}, root / "out" / folder.name
                )
            # The script takes the folder's files in name order, one meeting each.
            for audio, result in zip(sorted(folder.iterdir()), saved, strict=True):
                done[audio.name] = result.stat().st_mtime
        own_after = sample(os.getpid())
        stats = sim.stats()
    wall = max(done.values()) - started
    count = len(done)
    return {
        "client": "baseline",
        "profile": profile.name,
        "files": count,
        "batch_files": batch_files,
        "seconds": round(wall, 3),
        "files_per_second": round(count / wall, 2),
        "latency_seconds": latency_summary([t - started for t in done.values()]),
        "requests_per_file": requests_per_file(stats, count),
        "cpu_ms_per_file": round(
            (own_after.cpu_seconds - own_before.cpu_seconds) * 1000 / count, 3
        ),
    }
