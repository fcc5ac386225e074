"""ARCHIVE_RETENTION_DAYS on real folders: old archived audio goes, nothing else does."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from hrec_ingest.metrics import Metrics
from hrec_ingest.retention import DAY_SECONDS, ArchivePurger, purge_archive

pytestmark = pytest.mark.timeout(30)

NOW = time.time()


def put(path: Path, age_days: float, size: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    stamp = NOW - age_days * DAY_SECONDS
    os.utime(path, (stamp, stamp))
    return path


def test_purges_old_archived_audio_only(tmp_path: Path) -> None:
    archive, out, failed = tmp_path / "archive", tmp_path / "out", tmp_path / "failed"
    old = put(archive / "demo" / "old.wav", 40, size=300)
    new = put(archive / "demo" / "new.wav", 2)
    deep_old = put(archive / "demo" / "2026" / "11" / "call.wav", 31, size=50)
    kept_beside = put(archive / "demo" / "mixed" / "recent.wav", 1)
    put(archive / "demo" / "mixed" / "ancient.wav", 99)
    transcript = put(out / "demo" / "old.json", 40)
    failed_audio = put(failed / "demo" / "old.wav", 40)
    stray = put(archive / "loose.wav", 40)  # not below a tenant's folder: not ours
    hidden = put(archive / "demo" / ".old.wav.move.hrec.tmp", 40)  # a move in progress

    report = purge_archive(archive, NOW - 30 * DAY_SECONDS)

    assert not old.exists() and not deep_old.exists()
    assert (report.files, report.bytes, report.errors) == (3, 300 + 50 + 100, 0)
    for survivor in (new, kept_beside, transcript, failed_audio, stray, hidden):
        assert survivor.exists(), survivor
    assert not (archive / "demo" / "2026").exists()  # emptied by the purge: removed
    assert report.folders == 2  # 2026/11 and 2026
    assert (archive / "demo").is_dir()  # a tenant's folder never goes


def test_symbolic_links_are_neither_followed_nor_removed(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    elsewhere = put(tmp_path / "elsewhere" / "precious.wav", 400)
    (archive / "demo").mkdir(parents=True)
    link = archive / "demo" / "link.wav"
    link.symlink_to(elsewhere)
    os.utime(link, (NOW - 400 * DAY_SECONDS,) * 2, follow_symlinks=False)
    (archive / "demo" / "linked-folder").symlink_to(elsewhere.parent, target_is_directory=True)

    report = purge_archive(archive, NOW - 30 * DAY_SECONDS)

    assert report.files == 0
    assert elsewhere.exists() and link.is_symlink()


def test_empty_folders_it_did_not_empty_are_left(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    (archive / "demo" / "made-by-someone").mkdir(parents=True)
    assert purge_archive(archive, NOW).folders == 0
    assert (archive / "demo" / "made-by-someone").is_dir()


def test_missing_archive_is_nothing_to_do(tmp_path: Path) -> None:
    assert purge_archive(tmp_path / "nowhere", NOW).files == 0


async def test_purger_counts_and_runs_at_start(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    put(archive / "demo" / "old.wav", 10, size=1000)
    metrics = Metrics()
    purger = ArchivePurger(archive, 7, metrics=metrics, every=3600)
    running = asyncio.create_task(purger.run())
    try:
        deadline = time.monotonic() + 10
        while (archive / "demo" / "old.wav").exists():
            assert time.monotonic() < deadline, "the first pass did not run at start"
            await asyncio.sleep(0.02)
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    sample = metrics.registry.get_sample_value
    assert sample("hrec_archive_purged_total") == 1
    assert sample("hrec_archive_purged_bytes_total") == 1000


async def test_fractional_days(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    hours_old = put(archive / "demo" / "a.wav", 0.5)  # twelve hours
    report = await ArchivePurger(archive, 0.25).purge_once()  # six hours
    assert report.files == 1 and not hours_old.exists()
