"""The benchmark command at a tiny size, so that it cannot rot: it runs and reports sane figures.

Not a measurement: twenty files on a shared CI machine say nothing about speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(90)
def test_the_benchmark_runs_end_to_end_and_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--profile",
            "zero",
            "--files",
            "20",
            "--baseline-files",
            "20",
            "--out",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "daemon/baseline throughput ratio" in done.stdout
    report = json.loads(out.read_text())
    assert report["machine"]["cores"] >= 1 and report["machine"]["memory_gb"] > 0
    (result,) = report["profiles"]
    daemon, baseline = result["daemon"], result["baseline"]
    assert daemon["files"] == daemon["archived"] == 20 and daemon["failed"] == 0
    assert baseline["files"] == 20
    for run in (daemon, baseline):
        assert run["files_per_second"] > 0
        assert 0 < run["latency_seconds"]["p50"] <= run["latency_seconds"]["p99"]
        assert run["requests_per_file"]["GET /api/stt/{meetingId}/0"] == 1.0
        assert run["requests_per_file"]["GET /api/meetings/{meetingId}"] >= 1.0
    assert daemon["cpu_ms_per_file"] > 0 and daemon["rss_peak_mb"] > daemon["rss_start_mb"] > 0
    assert result["ratio"] > 0
    # The password must not leak into what the benchmark prints or saves.
    assert "bench-Secret" not in done.stdout + done.stderr + out.read_text()
