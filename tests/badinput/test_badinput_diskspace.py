"""The low-disk warning alone: once per interval and file system, never a readiness failure.

The disk is real; it is "low" because the threshold is set above any disk's size.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from hrec_ingest.diskspace import LOG_EVERY_SECONDS, DiskSpace

HUGE_MB = 10**12  # an exabyte: every disk is below it


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


def test_low_space_is_logged_once_per_interval_and_its_end_once(tmp_path: Path) -> None:
    clock = Clock()
    (tmp_path / "out").mkdir()
    (tmp_path / "archive").mkdir()
    registry = CollectorRegistry()
    folders = {"OUTPUT_DIR": tmp_path / "out", "ARCHIVE_DIR": tmp_path / "archive"}
    disk = DiskSpace(folders, HUGE_MB, registry, clock=clock)
    with capture_logs() as logs:
        for _ in range(5):  # checks every 10 s, well inside one interval
            disk.check()
            clock.now += 10
        clock.now += LOG_EVERY_SECONDS
        disk.check()
        disk.warn_bytes = 0  # space came back (LOW_DISK_WARN_MB=0 would say the same)
        disk.check()
        disk.check()
    low = events(logs, "disk.low")
    assert len(low) == 2  # at once, then once more after the interval
    assert low[0]["folder"] == "OUTPUT_DIR"  # one file system: one warning, not two
    assert low[0]["path"] == str(tmp_path / "out") and isinstance(low[0]["free_mb"], int)
    assert low[0]["log_level"] == "warning"
    assert len(events(logs, "disk.ok")) == 1
    free = registry.get_sample_value("hrec_disk_free_bytes", {"folder": "ARCHIVE_DIR"})
    assert free is not None and free > 0


def test_readiness_reports_space_without_failing(tmp_path: Path) -> None:
    disk = DiskSpace({"OUTPUT_DIR": tmp_path}, HUGE_MB)
    assert disk.readiness() == (True, "not measured yet")
    disk.check()
    ok, detail = disk.readiness()
    assert ok and "OUTPUT_DIR" in detail and f"below LOW_DISK_WARN_MB={HUGE_MB}" in detail


def test_a_missing_folder_is_skipped_and_zero_never_warns(tmp_path: Path) -> None:
    disk = DiskSpace({"OUTPUT_DIR": tmp_path / "gone", "ARCHIVE_DIR": tmp_path}, 0)
    with capture_logs() as logs:
        disk.check()
    assert not events(logs, "disk.low")
    assert list(disk.free) == ["ARCHIVE_DIR"]
