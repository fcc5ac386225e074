"""Reading what happened: the daemon's JSON log, the simulator's counters, percentiles."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

# The simulator's route names (SimulatorState.requests) as the guide's endpoints.
ENDPOINTS: Mapping[str, str] = {
    "token": "POST token",
    "hrec": "POST /hrec",
    "task": "GET /api/tasks/{taskId}",
    "tasks": "GET /api/tasks?filter",
    "meeting": "GET /api/meetings/{meetingId}",
    "stt": "GET /api/stt/{meetingId}/0",
    "unmatched": "unmatched",
}


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` 0.5 is the median)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def epoch_of(timestamp: str) -> float:
    """Epoch seconds of a log line's ISO-8601 UTC timestamp."""
    return datetime.fromisoformat(timestamp).timestamp()


@dataclass
class LogFollower:
    """Reads a JSON-lines log as it grows and keeps the events a benchmark needs.

    ``finished`` maps each file (its path below the inbox) to the epoch time
    its audio left the inbox: ``file.exported`` is logged after the move to
    ARCHIVE_DIR, ``file.failed`` after the move to FAILED_DIR.
    """

    path: Path
    ready_at: float | None = None
    exported: dict[str, float] = field(default_factory=dict)
    failed: dict[str, float] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    _offset: int = 0
    _partial: bytes = b""

    def poll(self) -> None:
        """Read whatever the log gained since the last call."""
        with self.path.open("rb") as stream:
            stream.seek(self._offset)
            chunk = stream.read()
        self._offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            self._take(raw)

    def _take(self, raw: bytes) -> None:
        try:
            line = json.loads(raw)
        except ValueError:
            return
        if not isinstance(line, dict):
            return
        event = line.get("event")
        if event == "daemon.ready":
            self.ready_at = epoch_of(line["timestamp"])
        elif event == "file.exported":
            self.exported[line["file"]] = epoch_of(line["timestamp"])
        elif event == "file.failed":
            self.failed[line["file"]] = epoch_of(line["timestamp"])
        elif line.get("level") in ("error", "critical"):
            self.errors.append(line)

    @property
    def settled(self) -> int:
        """How many files have left the inbox, either way."""
        return len(self.exported) + len(self.failed)


def requests_per_file(stats: Mapping[str, Any], files: int) -> dict[str, float]:
    """Requests the simulator answered, by endpoint, divided by the number of files."""
    per_file: dict[str, float] = {}
    for route, by_status in sorted(stats.get("requests", {}).items()):
        count = sum(by_status.values())
        per_file[ENDPOINTS.get(route, route)] = round(count / files, 4) if files else math.nan
    per_file["total"] = round(sum(per_file.values()), 4)
    return per_file


def requests_since(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The simulator's request counters of ``after`` less those of ``before``."""
    counts: dict[str, dict[str, int]] = {}
    for route, by_status in after.get("requests", {}).items():
        earlier = before.get("requests", {}).get(route, {})
        counts[route] = {status: n - earlier.get(status, 0) for status, n in by_status.items()}
    return {**after, "requests": counts}


def latency_summary(latencies: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of a list of seconds, rounded to milliseconds."""
    return {
        "p50": round(percentile(latencies, 0.50), 3),
        "p99": round(percentile(latencies, 0.99), 3),
        "max": round(max(latencies), 3) if latencies else math.nan,
    }
