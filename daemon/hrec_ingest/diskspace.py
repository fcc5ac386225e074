"""Free space where transcripts and archived audio pile up: a warning before the disk fills.

Every CHECK_EVERY_SECONDS the free space of OUTPUT_DIR and ARCHIVE_DIR (once
per file system) is read and published as the gauge
``hrec_disk_free_bytes{folder}``. Below LOW_DISK_WARN_MB, ``disk.low`` is
logged at once and then at most once per LOG_EVERY_SECONDS for as long as
space stays low; ``disk.ok`` says once that it came back. Low space is a
warning, not an outage: /readyz turns false only when a write is actually
refused (the exporter's ``blocked_since``), and the export resumes by itself.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import structlog
from prometheus_client import CollectorRegistry, Gauge

log = structlog.get_logger(__name__)

CHECK_EVERY_SECONDS = 10.0
LOG_EVERY_SECONDS = 60.0
MB = 1_000_000  # LOW_DISK_WARN_MB counts 10^6 bytes, as disk vendors and `df -H` do


class DiskSpace:
    """Watches the free space of some folders (KEY -> path) against ``warn_mb`` (0: never warn).

    ``check()`` does the reading and the logging; ``readiness()`` reports the
    last reading without touching the disk, so /readyz stays cheap.
    """

    def __init__(
        self,
        folders: Mapping[str, Path],
        warn_mb: int,
        registry: CollectorRegistry | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        log_every: float = LOG_EVERY_SECONDS,
    ) -> None:
        self.folders = dict(folders)
        self.warn_bytes = warn_mb * MB
        self.clock = clock
        self.log_every = log_every
        self.free: dict[str, int] = {}
        self._low_logged_at: dict[str, float] = {}
        self._gauge = (
            Gauge(
                "hrec_disk_free_bytes",
                "Free bytes on the file system of OUTPUT_DIR and ARCHIVE_DIR.",
                ["folder"],
                registry=registry,
            )
            if registry is not None
            else None
        )

    async def run(self) -> None:
        """Check now and then every CHECK_EVERY_SECONDS, without drift, until cancelled."""
        while True:
            started = self.clock()
            await asyncio.to_thread(self.check)
            await asyncio.sleep(max(0.0, CHECK_EVERY_SECONDS - (self.clock() - started)))

    def check(self) -> None:
        """Read the free space of each file system once; log ``disk.low`` or ``disk.ok``."""
        seen_devices: set[int] = set()
        # Built aside and swapped in whole: readiness() reads it from the event loop meanwhile.
        fresh: dict[str, int] = {}
        for key, path in self.folders.items():
            try:
                st = os.statvfs(path)
                device = os.stat(path).st_dev
            except OSError as exc:
                # A folder that vanished is the exporter's problem to report, not ours.
                log.debug("disk.unreadable", folder=key, path=str(path), error=str(exc))
                continue
            free = fresh[key] = st.f_bavail * st.f_frsize
            if self._gauge is not None:
                self._gauge.labels(folder=key).set(free)
            if device in seen_devices:
                continue  # one warning per file system, under the first folder on it
            seen_devices.add(device)
            self._judge(key, path, free)
        self.free = fresh

    def _judge(self, key: str, path: Path, free: int) -> None:
        now = self.clock()
        last = self._low_logged_at.get(key)
        if self.warn_bytes and free < self.warn_bytes:
            if last is None or now - last >= self.log_every:
                self._low_logged_at[key] = now
                log.warning(
                    "disk.low",
                    folder=key,
                    path=str(path),
                    free_mb=free // MB,
                    threshold_mb=self.warn_bytes // MB,
                    hint=f"free space on the disk of {key}; writing stops when it is full "
                    "and resumes by itself when space returns",
                )
        elif last is not None:
            del self._low_logged_at[key]
            log.info("disk.ok", folder=key, path=str(path), free_mb=free // MB)

    def readiness(self) -> tuple[bool, str]:
        """The /readyz line: always passing (refused writes fail the ``disk`` check instead)."""
        if not self.free:
            return True, "not measured yet"
        parts = [f"{key} {free // MB} MB free" for key, free in self.free.items()]
        low = [key for key, free in self.free.items() if self.warn_bytes and free < self.warn_bytes]
        if low:
            parts.append(f"below LOW_DISK_WARN_MB={self.warn_bytes // MB}: {', '.join(low)}")
        return True, "; ".join(parts)
