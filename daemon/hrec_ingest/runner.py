"""``hrec-ingest run``: start-up, readiness, watchdog and shutdown around the Daemon."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping

import structlog

from hrec_ingest.apihealth import ApiHealth
from hrec_ingest.config import Settings
from hrec_ingest.diskspace import DiskSpace
from hrec_ingest.health import HealthServer, HealthServerError
from hrec_ingest.housekeeping import Housekeeping
from hrec_ingest.journal import ACTIVE_FILE_STATES, Journal, JournalError
from hrec_ingest.logs import register_secret
from hrec_ingest.metrics import Metrics
from hrec_ingest.pipeline.supervise import supervise
from hrec_ingest.sdnotify import SystemdNotifier, watchdog_interval
from hrec_ingest.service import (
    Daemon,
    apply_umask,
    install_signal_handlers,
    make_clients,
    open_gets,
    open_session,
    tls_context,
)

log = structlog.get_logger(__name__)

STATUS_EVERY_SECONDS = 10.0
# Allocations between young-generation collections (CPython's default is 700). The
# pipeline allocates many short-lived objects per file and almost no reference cycles,
# so collecting that often was wasted work: about 5% of the daemon's CPU per file in the
# zero benchmark, measured in interleaved runs.
GC_YOUNG_THRESHOLD = 20_000


class Readiness:
    """What /readyz reports: journal open, inbox readable, API answering, disk writable."""

    def __init__(
        self,
        daemon: Daemon,
        settings: Settings,
        api_health: ApiHealth | None = None,
        disk: DiskSpace | None = None,
    ) -> None:
        self.daemon = daemon
        self.settings = settings
        self.api_health = api_health
        self.disk = disk

    def checks(self) -> Mapping[str, tuple[bool, str]]:
        s = self.settings
        inbox_ok = s.files_dir.is_dir()
        checks: dict[str, tuple[bool, str]] = {
            "journal": (True, str(self.daemon.journal.path)),
            "inbox": (inbox_ok, str(s.files_dir) if inbox_ok else f"{s.files_dir} is missing"),
        }
        stages = self.daemon.stages
        if stages is not None:
            blocked = stages.exporter.blocked_since
            checks["disk"] = (
                blocked is None,
                "writable" if blocked is None else "OUTPUT_DIR or ARCHIVE_DIR refuses writes",
            )
        if self.api_health is not None:
            checks["api"] = self.api_health.check(s.ready_max_api_age_seconds)
        if self.disk is not None:
            # Low space only informs: readiness fails when writes are refused ("disk").
            checks["disk_space"] = self.disk.readiness()
        return checks


async def run_daemon(settings: Settings, metrics: Metrics | None = None) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit status (0 graceful, 1 fatal)."""
    # watchfiles logs every batch of events at info: far too chatty for a daemon's log.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    for warning in settings.warnings:
        log.warning("config.warning", message=warning)
    for tenant in settings.tenants:
        register_secret(tenant.password.get_secret_value(), pinned=True)
    if settings.webhook_secret is not None:
        register_secret(settings.webhook_secret.get_secret_value(), pinned=True)
    apply_umask(settings.umask)
    try:
        journal = Journal.open(settings.state_dir)
    except JournalError as exc:
        log.error("journal.unusable", reason=str(exc))
        return 1
    metrics = metrics or Metrics()
    try:
        return await _serve(settings, journal, metrics)
    finally:
        journal.close()


async def _serve(settings: Settings, journal: Journal, metrics: Metrics) -> int:
    stop, force = asyncio.Event(), asyncio.Event()
    install_signal_handlers(stop, force)
    notifier = SystemdNotifier()
    context = tls_context(settings)
    async with open_session(settings, context) as session, open_gets(settings, context) as gets:
        clients = make_clients(settings, session, metrics.observer, gets)
        daemon = Daemon(settings, journal, metrics.observer)
        daemon.stop_taking = stop
        disk = DiskSpace(
            {"OUTPUT_DIR": settings.output_dir, "ARCHIVE_DIR": settings.archive_dir},
            settings.low_disk_warn_mb,
            metrics.registry,
        )
        health = None
        if settings.metrics_addr is not None:
            host, port = settings.metrics_addr
            readiness = Readiness(daemon, settings, metrics.api_health, disk)
            health = HealthServer(host, port, metrics.registry, readiness.checks)
            try:
                await health.start()
            except HealthServerError as exc:
                log.error("metrics.unavailable", reason=str(exc))
                return 1
        housekeeping = Housekeeping(settings, journal, daemon.folders, metrics)
        housekeeping.start()
        running = asyncio.create_task(daemon.run(clients, force))
        await daemon.started.wait()
        collector_defaults = _settle_garbage_collector()
        notifier.ready()
        log.info(
            "daemon.ready",
            inbox=str(settings.files_dir),
            tenants=[t.name for t in settings.tenants],
            journal=str(journal.path),
        )
        helpers = [
            asyncio.create_task(_report(daemon, notifier, metrics)),
            asyncio.create_task(_announce_stopping(stop, notifier)),
            asyncio.create_task(supervise("disk", disk.run)),
        ]
        interval = watchdog_interval()
        if interval is not None:
            helpers.append(asyncio.create_task(_watchdog(notifier, interval)))
        try:
            await running
        finally:
            notifier.stopping()
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            await housekeeping.stop()
            if health is not None:
                await health.stop()
            _restore_garbage_collector(collector_defaults)
    log.info("daemon.stopped")
    return 0


def _settle_garbage_collector() -> tuple[int, int, int]:
    """After start-up: its objects (modules, settings, loaded rows) are never scanned again.

    Returns the thresholds it replaced, for :func:`_restore_garbage_collector`.
    """
    gc.collect()
    gc.freeze()
    defaults = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, defaults[1], defaults[2])
    return defaults


def _restore_garbage_collector(defaults: tuple[int, int, int]) -> None:
    # For a process that goes on after the daemon stops (the tests run many daemons).
    gc.unfreeze()
    gc.set_threshold(*defaults)


async def _announce_stopping(stop: asyncio.Event, notifier: SystemdNotifier) -> None:
    # systemd should know at once that the drain has begun, not when it ends.
    await stop.wait()
    notifier.stopping()


async def _watchdog(notifier: SystemdNotifier, interval: float) -> None:
    # Sent from the event loop itself: a blocked loop stops the pings and
    # systemd restarts the service.
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval)


async def _report(daemon: Daemon, notifier: SystemdNotifier, metrics: Metrics) -> None:
    """STATUS= line for systemd and the journal-backed gauges, every few seconds."""
    while True:
        started = time.monotonic()
        counts = daemon.journal.file_counts()
        metrics.set_file_counts({(state, tenant): n for (tenant, state), n in counts.items()})
        stages = daemon.stages
        if stages is not None:
            metrics.set_queue_depth("watcher", stages.watcher.pending_count)
            # Each stage's input queue, labelled with the stage that takes from it.
            for stage, queue in (
                ("intake", stages.watcher.output),
                ("batcher", stages.intake.output),
                ("submitter", stages.submitter.batches),
                ("poller", stages.poller.accepted),
                ("exporter", stages.exporter.finished),
            ):
                metrics.set_queue_depth(stage, queue.qsize())
            metrics.set_tasks_in_flight({"all": stages.poller.in_flight})
        metrics.set_outbox_depth(daemon.journal.outbox.depth())
        oldest = daemon.journal.oldest_active_taken_at()
        metrics.set_oldest_waiting(None if oldest is None else time.time() - oldest)
        by_state: dict[str, int] = {}
        for (_, state), n in counts.items():
            by_state[state] = by_state.get(state, 0) + n
        in_flight = stages.poller.in_flight if stages else 0
        in_progress = sum(by_state.get(state, 0) for state in ACTIVE_FILE_STATES)
        notifier.status(
            f"tasks in flight {in_flight}; files archived {by_state.get('archived', 0)}, "
            f"failed {by_state.get('failed', 0)}, in progress {in_progress}"
        )
        await asyncio.sleep(max(0.0, STATUS_EVERY_SECONDS - (time.monotonic() - started)))
