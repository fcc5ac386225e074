"""ARCHIVE_RETENTION_DAYS: delete archived audio older than N days, at start and every hour.

Only ARCHIVE_DIR is touched, and inside it only regular files below a
tenant's folder (``ARCHIVE_DIR/<tenant>/...``) whose modification time is
older than the limit. Transcripts (OUTPUT_DIR), FAILED_DIR, anything hidden
(the daemon's own temporary files among them), symbolic links and whatever
they point to are never touched. A sub-folder the purge emptied is removed;
the tenants' folders and ARCHIVE_DIR itself never are.

The age is the archived file's mtime, which a move keeps: audio whose mtime
was already old when it was dropped (``cp -p``, ``rsync -t``) is purged at
the first pass after it is archived.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from hrec_ingest.metrics import Metrics

log = structlog.get_logger(__name__)

PURGE_EVERY_SECONDS = 3600.0
DAY_SECONDS = 86400.0


@dataclass(slots=True)
class PurgeReport:
    """What one pass removed, and how many entries it could not remove."""

    files: int = 0
    bytes: int = 0
    folders: int = 0
    errors: int = 0


def purge_archive(archive_dir: Path, cutoff: float) -> PurgeReport:
    """Delete archived files with an mtime before ``cutoff`` (epoch seconds); blocking.

    Walks each tenant folder of ``archive_dir`` without following symbolic
    links. Call it through ``asyncio.to_thread``.
    """
    report = PurgeReport()
    try:
        roots = [e for e in os.scandir(archive_dir) if _visible_dir(e)]
    except FileNotFoundError:
        return report
    for root in roots:
        _purge_tree(Path(root.path), cutoff, report)
    return report


def _visible_dir(entry: os.DirEntry[str]) -> bool:
    return not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)


def _purge_tree(folder: Path, cutoff: float, report: PurgeReport) -> bool:
    """Purge below ``folder``; returns whether anything in it was removed."""
    removed = False
    try:
        entries = list(os.scandir(folder))
    except OSError:
        report.errors += 1
        return False
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            if _purge_tree(Path(entry.path), cutoff, report) and _remove_if_empty(entry.path):
                report.folders += 1
                removed = True
        elif entry.is_file(follow_symlinks=False):
            removed |= _purge_file(entry, cutoff, report)
    return removed


def _purge_file(entry: os.DirEntry[str], cutoff: float, report: PurgeReport) -> bool:
    try:
        info = entry.stat(follow_symlinks=False)
        if info.st_mtime >= cutoff:
            return False
        os.unlink(entry.path)
    except FileNotFoundError:
        return False  # gone meanwhile (an operator, another purge)
    except OSError:
        report.errors += 1
        return False
    report.files += 1
    report.bytes += info.st_size
    return True


def _remove_if_empty(path: str) -> bool:
    try:
        os.rmdir(path)
    except OSError:
        return False  # not empty (a file arrived meanwhile, or one was kept)
    return True


class ArchivePurger:
    """Runs :func:`purge_archive` at start and every ``every`` seconds, logged and counted."""

    def __init__(
        self,
        archive_dir: Path,
        retention_days: float,
        *,
        metrics: Metrics | None = None,
        every: float = PURGE_EVERY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.archive_dir = archive_dir
        self.retention_days = retention_days
        self.every = every
        self._metrics = metrics
        self._clock = clock

    async def run(self) -> None:
        """Purge for ever; the pause subtracts the time the pass took, so passes do not drift."""
        while True:
            started = time.monotonic()
            await self.purge_once()
            await asyncio.sleep(max(0.0, self.every - (time.monotonic() - started)))

    async def purge_once(self) -> PurgeReport:
        """One pass over ARCHIVE_DIR; returns what it removed."""
        cutoff = self._clock() - self.retention_days * DAY_SECONDS
        report = await asyncio.to_thread(purge_archive, self.archive_dir, cutoff)
        if report.errors:
            log.warning(
                "archive.purged",
                files=report.files,
                bytes=report.bytes,
                folders=report.folders,
                errors=report.errors,
                older_than_days=self.retention_days,
                hint="some archived files or folders could not be read or removed: "
                "check the permissions in ARCHIVE_DIR",
            )
        elif report.files:
            log.info(
                "archive.purged",
                files=report.files,
                bytes=report.bytes,
                folders=report.folders,
                older_than_days=self.retention_days,
            )
        else:
            log.debug("archive.purged", files=0, older_than_days=self.retention_days)
        if self._metrics is not None and report.files:
            self._metrics.archive_purge(report.files, report.bytes)
        return report
