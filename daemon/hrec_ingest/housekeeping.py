"""Work that runs beside the pipeline in ``run``: the manifest, the webhook and the retention purge.

None of it can hold the pipeline up: the manifest and the webhook read the
events the journal recorded (hrec_ingest/events), and the purge only looks at
ARCHIVE_DIR. Each worker is supervised (a crash is logged and it restarts),
and :meth:`Housekeeping.stop` cancels them and reaps every task, so no
exception is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from hrec_ingest.config import Settings
from hrec_ingest.events.manifest import BATCH, ManifestWriter
from hrec_ingest.events.webhook import WebhookSender
from hrec_ingest.journal import Journal
from hrec_ingest.metrics import Metrics
from hrec_ingest.miaop import make_ssl_context
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.pipeline.supervise import supervise
from hrec_ingest.retention import ArchivePurger

log = structlog.get_logger(__name__)

# At a graceful stop the last lines are written at once rather than at the next start.
FLUSH_SECONDS = 5.0

Work = Callable[[], Coroutine[Any, Any, None]]


class Housekeeping:
    """Starts and stops the manifest writer, the webhook sender (WEBHOOK_URL) and the
    archive purge (ARCHIVE_RETENTION_DAYS)."""

    def __init__(
        self, settings: Settings, journal: Journal, folders: Folders, metrics: Metrics | None
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.manifest = ManifestWriter(journal.outbox, folders, metrics=metrics)
        self.work: list[tuple[str, Work]] = [("manifest", self.manifest.run)]
        if settings.webhook_url is not None:
            secret = settings.webhook_secret
            sender = WebhookSender(
                journal.outbox,
                folders,
                settings.webhook_url,
                secret.get_secret_value() if secret is not None else None,
                metrics=metrics,
                # The system's CAs plus CA_BUNDLE: receivers on-prem often share the server's CA.
                ssl_context=make_ssl_context(settings.tls_verify, settings.ca_bundle, None, None),
            )
            self.work.append(("webhook", sender.run))
        if settings.archive_retention_days is not None:
            purger = ArchivePurger(
                settings.archive_dir, settings.archive_retention_days, metrics=metrics
            )
            self.work.append(("retention", purger.run))
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Tell the journal whether to record webhook events, then start the workers.

        Call it before the pipeline starts, so that every state change of this
        run is recorded for the webhook when one is configured.
        """
        dropped = self.journal.outbox.enable_webhook(self.settings.webhook_url is not None)
        if dropped:
            log.warning(
                "webhook.discarded",
                events=dropped,
                reason="WEBHOOK_URL is no longer set; these events of an earlier run are not sent",
            )
        self._tasks = [
            asyncio.create_task(supervise(name, run), name=name) for name, run in self.work
        ]

    async def stop(self) -> None:
        """Cancel the workers, reap them, then write the manifest lines still due."""
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        for task, result in zip(self._tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error("housekeeping.failed", worker=task.get_name(), exc_info=result)
        self._tasks = []
        try:
            async with asyncio.timeout(FLUSH_SECONDS):
                while await self.manifest.write_due() == BATCH:
                    pass
        except (TimeoutError, OSError) as exc:
            log.warning("manifest.flush_incomplete", reason=repr(exc), note="written at next start")
