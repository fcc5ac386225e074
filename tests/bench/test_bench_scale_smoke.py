"""The scale benchmarks (inflight, startup, detection) at a tiny size, so that they cannot rot.

Not measurements: a few dozen files on a shared CI machine say nothing about
scale. Each runs the real daemon process against the simulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def run(module: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", f"benchmarks.{module}", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # The password must not leak into what the benchmark prints.
    assert "bench-Secret" not in done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.timeout(120)
def test_inflight_reports_memory_and_status_requests() -> None:
    result = run("inflight", "--tasks", "30", "--warmup", "0.5", "--window", "1")
    assert result["tasks"] == 30 and result["peak_rss_mb"] > 0
    assert result["steady"]["seconds"] == 1
    assert result["status_requests_per_second"] >= 0
    assert result["tasks_finished"] == 0, "the simulator holds every task in processing"


@pytest.mark.timeout(120)
def test_startup_reports_readiness_and_the_first_batch() -> None:
    result = run(
        "startup", "--rows", "400", "--in-flight", "40", "--files", "40", "--stable-seconds", "0.5"
    )
    assert 0 < result["ready_notify_seconds"] <= result["first_post_seconds"]
    assert result["readyz_seconds"] > 0
    assert result["first_post_after_ready_seconds"] > 0


@pytest.mark.timeout(120)
def test_detection_reports_the_delay_of_every_dropped_file() -> None:
    result = run(
        "detection",
        "--tree",
        "40",
        "--drops",
        "5",
        "--stable-seconds",
        "0.5",
        "--rescan-seconds",
        "1",
        "--max-gap",
        "0.1",
    )
    assert result["dropped"] == 5
    assert 0 <= result["delay_p50"] <= result["delay_p99"] <= result["delay_max"]


@pytest.mark.timeout(120)
def test_floor_reports_each_part_of_the_least_per_file_work(tmp_path: Path) -> None:
    out = tmp_path / "floor.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.floor", "--files", "40", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    parts = report["cpu_ms_per_file"]
    assert len(parts) == 4 and all(value > 0 for value in parts.values())
    assert report["floor_ms_per_file"] > 0
    assert "bench-Secret" not in done.stdout + done.stderr
