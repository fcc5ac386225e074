"""The benchmark's own arithmetic: percentiles, counters, the log it reads, profile areas."""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # the benchmarks package lives at the repository root

from benchmarks.hotspots import area_of  # noqa: E402
from benchmarks.measure import (  # noqa: E402
    LogFollower,
    percentile,
    requests_per_file,
    requests_since,
)


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0


def test_requests_are_counted_from_a_snapshot_and_named_by_endpoint() -> None:
    before = {"requests": {"token": {"200": 1}, "stt": {"200": 5}}}
    after = {"requests": {"token": {"200": 1}, "stt": {"200": 45}, "hrec": {"200": 2}}}
    per_file = requests_per_file(requests_since(before, after), 40)
    assert per_file == {
        "POST /hrec": 0.05,
        "GET /api/stt/{meetingId}/0": 1.0,
        "POST token": 0.0,
        "total": 1.05,
    }


def test_the_log_is_read_as_it_grows_including_a_line_cut_in_half(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    lines = [
        {"timestamp": "2026-11-21T10:00:00.000000Z", "event": "daemon.ready", "level": "info"},
        {
            "timestamp": "2026-11-21T10:00:01.500000Z",
            "event": "file.exported",
            "level": "info",
            "file": "a.wav",
        },
        {
            "timestamp": "2026-11-21T10:00:02Z",
            "event": "file.failed",
            "level": "warning",
            "file": "b.wav",
        },
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    follower = LogFollower(log)
    log.write_text(text[:150])
    follower.poll()
    log.write_text(text)
    follower.poll()
    assert follower.ready_at == 1795255200.0
    assert follower.exported == {"a.wav": 1795255201.5}
    assert follower.failed == {"b.wav": 1795255202.0}
    assert follower.settled == 2


def test_a_sample_belongs_to_the_part_nearest_the_top_of_its_stack() -> None:
    client = (
        "run (hrec_ingest/pipeline/exporter.py:1)",
        "get (hrec_ingest/miaop/client.py:2)",
        "loads (json/__init__.py:3)",
    )
    render = (
        "run (hrec_ingest/pipeline/exporter.py:1)",
        "render_json (hrec_ingest/formats/jsondoc.py:2)",
        "dumps (json/__init__.py:3)",
    )
    assert area_of(client).startswith("HTTP client")
    assert area_of(render) == "rendering transcripts"
    assert area_of(("select (selectors.py:1)",)) == "event loop and the rest"
