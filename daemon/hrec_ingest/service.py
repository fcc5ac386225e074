"""The daemon: wires the stages together and runs them until a signal says stop.

Stopping is two-phase (uvicorn, saq): the first SIGTERM/SIGINT stops taking
files and gives uploads and exports in flight SHUTDOWN_GRACE_SECONDS to end;
whatever is still running then is cancelled and named in the log. A second
signal cancels at once. Either way the journal is closed last, and anything
cut short is picked up from the journal at the next start.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from hrec_ingest.config import Settings
from hrec_ingest.fsops import use_umask
from hrec_ingest.journal import Journal
from hrec_ingest.miaop import (
    KeepAliveGets,
    MiaopClient,
    Observer,
    RetryPolicy,
    TokenManager,
    make_session,
    make_ssl_context,
)
from hrec_ingest.miaop.session import USER_AGENT
from hrec_ingest.pipeline.batcher import Batcher, BatchPolicy
from hrec_ingest.pipeline.claims import Claims
from hrec_ingest.pipeline.exporter import Exporter, ExportTiming
from hrec_ingest.pipeline.intake import Intake
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.pipeline.outcomes import Outcomes
from hrec_ingest.pipeline.poller import Poller, PollTiming
from hrec_ingest.pipeline.submitter import Submitter, SubmitTiming, TenantProfile
from hrec_ingest.pipeline.supervise import supervise
from hrec_ingest.pipeline.watcher import InboxLayout, Watcher

log = structlog.get_logger(__name__)


@dataclass
class Stages:
    watcher: Watcher
    intake: Intake
    batcher: Batcher
    submitter: Submitter
    poller: Poller
    exporter: Exporter


def folders_of(settings: Settings) -> Folders:
    layout = InboxLayout(
        settings.files_dir,
        frozenset(t.name for t in settings.tenants),
        settings.multi_tenant,
    )
    return Folders(
        layout,
        settings.output_dir,
        settings.archive_dir,
        settings.failed_dir,
        settings.export_formats,
    )


def make_clients(
    settings: Settings,
    session: aiohttp.ClientSession,
    observer: Observer | None = None,
    gets: KeepAliveGets | None = None,
) -> dict[str, MiaopClient]:
    """One token manager and client per tenant, all on the one process-wide session."""
    retry = RetryPolicy(
        attempts=settings.http_retry_attempts, max_total_seconds=settings.http_retry_max_seconds
    )
    keycloak, api = settings.keycloak_base_url, settings.api_base_url
    if keycloak is None or api is None:
        raise ValueError("KEYCLOAK_BASE_URL and API_BASE_URL are needed to reach the server")
    clients: dict[str, MiaopClient] = {}
    for tenant in settings.tenants:
        tokens = TokenManager(
            session,
            keycloak,
            tenant.name,
            tenant.username,
            tenant.password.get_secret_value(),
            client_id=settings.keycloak_client_id,
            observer=observer,
        )
        clients[tenant.name] = MiaopClient(
            session, api, tokens, retry=retry, observer=observer, gets=gets
        )
    return clients


def open_session(
    settings: Settings, context: ssl.SSLContext | None = None
) -> aiohttp.ClientSession:
    """The aiohttp session: token requests and uploads (``context``: default from settings)."""
    return make_session(
        context if context is not None else tls_context(settings),
        pool_limit=_pool_limit(settings),
        timeout_seconds=settings.http_timeout_seconds,
    )


def open_gets(settings: Settings, context: ssl.SSLContext) -> KeepAliveGets:
    """The plain GETs' own connections (status, meetings, transcriptions): see keepalive.py.

    Bounded like the session, so the server sees at most twice the pool: the
    session's connections mostly carry uploads, these mostly reads.
    """
    return KeepAliveGets(
        context,
        limit=_pool_limit(settings),
        timeout_seconds=settings.http_timeout_seconds,
        user_agent=USER_AGENT,
    )


def tls_context(settings: Settings) -> ssl.SSLContext:
    """The process's one SSL context: built once, as it reads files and may warn."""
    return make_ssl_context(
        verify=settings.tls_verify,
        ca_bundle=settings.ca_bundle,
        client_cert=settings.client_cert,
        client_key=settings.client_key,
    )


def _pool_limit(settings: Settings) -> int:
    return settings.submit_concurrency + settings.poll_concurrency + 4


class Daemon:
    """``hrec-ingest run``: everything between the inbox and the output folders."""

    def __init__(self, settings: Settings, journal: Journal, observer: Observer | None = None):
        self.settings = settings
        self.journal = journal
        self.observer = observer
        self.folders = folders_of(settings)
        self.claims = Claims(journal.active_paths())
        self.outcomes = Outcomes(journal, self.folders, self.claims)
        self.stop_taking = asyncio.Event()
        self.stages: Stages | None = None
        self.started = asyncio.Event()

    def build(self, clients: dict[str, MiaopClient]) -> Stages:
        s = self.settings
        stable: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)
        ready: asyncio.Queue[Any] = asyncio.Queue(maxsize=1000)
        batches: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(2, s.submit_concurrency))
        accepted: asyncio.Queue[str] = asyncio.Queue()
        finished: asyncio.Queue[str] = asyncio.Queue()
        profiles = {
            t.name: TenantProfile(
                t.name,
                t.base_language,
                t.task_name,
                t.supervisor_email,
                t.supervisor_name,
                t.generic_additional_info,
            )
            for t in s.tenants
        }
        return Stages(
            watcher=Watcher(
                self.folders.inbox,
                audio_extensions=s.audio_extensions,
                stable_seconds=s.stable_seconds,
                rescan_seconds=s.rescan_seconds,
                claims=self.claims,
                output=stable,
            ),
            intake=Intake(stable, ready, self.outcomes, self.claims, s.batch_max_bytes),
            batcher=Batcher(
                BatchPolicy(s.batch_max_files, s.batch_max_bytes, s.batch_max_wait_seconds),
                {t.name: t.base_language for t in s.tenants},
                ready,
                batches,
            ),
            submitter=Submitter(
                self.journal,
                clients,
                profiles,
                self.folders,
                self.outcomes,
                self.claims,
                batches,
                accepted,
                SubmitTiming(
                    s.submit_concurrency,
                    s.poll_initial_delay_seconds,
                    s.poll_interval_seconds,
                    s.poll_max_interval_seconds,
                ),
            ),
            poller=Poller(
                self.journal,
                clients,
                accepted,
                finished,
                PollTiming(
                    s.poll_concurrency,
                    s.poll_initial_delay_seconds,
                    s.poll_interval_seconds,
                    s.poll_max_interval_seconds,
                ),
                supervisors={t.name: t.supervisor_email for t in s.tenants},
            ),
            exporter=Exporter(
                self.journal,
                clients,
                self.folders,
                self.outcomes,
                finished,
                ExportTiming(s.poll_interval_seconds, s.poll_max_interval_seconds),
            ),
        )

    async def run(self, clients: dict[str, MiaopClient], force_stop: asyncio.Event) -> None:
        """Run every stage until ``stop_taking`` is set, then stop in two phases."""
        stages = self.stages = self.build(clients)
        work: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = [
            ("intake", stages.intake.run),
            ("batcher", lambda: stages.batcher.run(self.stop_taking)),
            ("submitter", stages.submitter.run),
            ("poller", stages.poller.run),
            ("exporter", stages.exporter.run),
        ]
        tasks = [asyncio.create_task(supervise(n, fn), name=n) for n, fn in work]
        watcher = asyncio.create_task(
            supervise("watcher", lambda: stages.watcher.run(self.stop_taking)), name="watcher"
        )
        self.started.set()
        await self.stop_taking.wait()
        await _settle_within([watcher], self.settings.shutdown_grace_seconds, force_stop, "watcher")
        busy = [stages.submitter.busy, stages.exporter.busy]
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds
        while any(b() for b in busy) and time.monotonic() < deadline and not force_stop.is_set():
            await asyncio.sleep(0.05)
        still = [n for n, b in zip(("uploads", "exports"), busy, strict=True) if b()]
        if still:
            log.warning(
                "daemon.cancelling",
                unfinished=still,
                note="picked up from the journal at the next start",
            )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _settle_within(
    tasks: list[asyncio.Task[None]], grace: float, force_stop: asyncio.Event, what: str
) -> None:
    forced = asyncio.create_task(force_stop.wait())
    await asyncio.wait([*tasks, forced], timeout=grace, return_when=asyncio.FIRST_COMPLETED)
    forced.cancel()
    for task in tasks:
        if not task.done():
            log.warning("daemon.cancelled", stage=what)
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def install_signal_handlers(stop: asyncio.Event, force: asyncio.Event) -> None:
    """First signal: stop taking files and drain. Second: stop now."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("daemon.force_stop", signal=signal.Signals(signum).name)
            force.set()
        else:
            log.info("daemon.stopping", signal=signal.Signals(signum).name)
            stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)


def apply_umask(umask: int) -> None:
    """UMASK for everything this process creates: the journal, transcripts, folders."""
    os.umask(umask)
    use_umask(umask)
