"""The webhook sender: POSTs due events from the outbox to WEBHOOK_URL, retrying with back-off.

It runs beside the pipeline and never blocks it: the pipeline only commits
journal changes (the triggers record the events), and this loop reads them
back. Delivery is at-least-once: an event is deleted only after a 2xx
answer, so a crash between the POST and that delete sends it again, with the
same body, signature and ``X-Hrec-Event-Id`` (the receiver de-duplicates).

What an answer means:

- **2xx**: delivered.
- **5xx, 408, 429, a timeout, a refused or dropped connection**: the receiver
  is unwell. The event is retried with exponential back-off and full jitter
  (``Retry-After`` honoured), and the whole sender pauses as long, so a
  receiver that is down sees one probe per pause, not the backlog. Given up
  when the event is :data:`MAX_EVENT_AGE_SECONDS` old.
- **anything else (3xx, other 4xx)**: the receiver refuses this event, usually
  a misconfiguration (wrong path, auth). Retried :data:`REFUSED_ATTEMPTS`
  times in all, in case it was a deployment in progress, then given up.

Every event given up is logged (``webhook.gave_up`` with its id) and counted,
so the outbox cannot grow without bound behind a broken receiver.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
import structlog
from yarl import URL

from hrec_ingest.events.documents import webhook_body
from hrec_ingest.events.outbox import Event, Outbox
from hrec_ingest.events.signing import (
    ATTEMPT_HEADER,
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature,
)
from hrec_ingest.metrics import Metrics
from hrec_ingest.miaop.backoff import full_jitter
from hrec_ingest.miaop.session import USER_AGENT
from hrec_ingest.pipeline.layout import Folders

log = structlog.get_logger(__name__)

MAX_EVENT_AGE_SECONDS = 24 * 3600.0
REFUSED_ATTEMPTS = 3
DELIVERY_TIMEOUT_SECONDS = 10.0
BATCH = 100
RETRYABLE_STATUSES = frozenset({408, 429})


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"  # transient: try again later
    REFUSED = "refused"  # the receiver said no to this event


@dataclass(frozen=True, slots=True)
class WebhookTiming:
    """Back-off of failed deliveries: first pause ``base`` seconds, growing to ``cap``."""

    base: float = 1.0
    cap: float = 300.0
    idle_poll: float = 1.0  # how often to look for new events when nothing is due


@dataclass(frozen=True, slots=True)
class Attempt:
    outcome: Outcome
    detail: str  # the status, or what went wrong on the wire
    retry_after: float | None = None


def classify(status: int) -> Outcome:
    """What an HTTP status from the receiver means for the event (module docstring)."""
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status >= 500 or status in RETRYABLE_STATUSES:
        return Outcome.FAILED
    return Outcome.REFUSED


def _retry_after(value: str | None) -> float | None:
    # Only the delta-seconds form: a receiver's HTTP-date is rare, and the back-off covers it.
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _wire_error(exc: BaseException) -> str:
    # Never str(exc) of every kind: some aiohttp errors quote the URL, which may hold a token.
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection dropped"
    return type(exc).__name__


class WebhookSender:
    """Delivers the outbox's webhook events to one URL until cancelled."""

    def __init__(
        self,
        outbox: Outbox,
        folders: Folders,
        url: str,
        secret: str | None,
        *,
        metrics: Metrics | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timing: WebhookTiming | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.outbox = outbox
        self.folders = folders
        self.url = url
        self._secret = secret
        self._metrics = metrics
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self.timing = timing or WebhookTiming()
        self._clock = clock
        self._rand = rand
        self._failures = 0  # consecutive transient failures, for the sender's own pause
        # Only the host is logged: the URL's path or query may carry a token.
        self.host = URL(url).host or "?"

    async def run(self) -> None:
        """Deliver due events for ever; pause after a failure, sleep when nothing is due."""
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT_SECONDS)
        connector = aiohttp.TCPConnector(limit=1, ssl=self._ssl)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, headers={"User-Agent": USER_AGENT}
        ) as session:
            while True:
                await asyncio.sleep(await self.deliver_due(session))

    async def deliver_due(self, session: aiohttp.ClientSession) -> float:
        """Send what is due now, in order; returns how long to wait before looking again."""
        for event in self.outbox.webhook_due(self._clock(), BATCH):
            attempt = await self.deliver(session, event)
            if attempt.outcome is Outcome.FAILED:
                self._failures += 1
                return self._pause(self._failures, attempt.retry_after)
            self._failures = 0
        due = self.outbox.next_webhook_at()
        if due is None:
            return self.timing.idle_poll
        return min(self.timing.idle_poll, max(0.0, due - self._clock()))

    async def deliver(self, session: aiohttp.ClientSession, event: Event) -> Attempt:
        """One attempt at one event, settled in the outbox before returning."""
        body = event.body
        if body is None:
            body = self.outbox.store_body(event.id, webhook_body(event, self.folders))
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: event.event_id,
            EVENT_HEADER: event.kind,
            ATTEMPT_HEADER: str(event.attempts + 1),
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = signature(body, self._secret)
        try:
            async with session.post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                attempt = Attempt(
                    classify(response.status),
                    f"HTTP {response.status}",
                    _retry_after(response.headers.get("Retry-After")),
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            attempt = Attempt(Outcome.FAILED, _wire_error(exc))
        self._settle(event, attempt)
        return attempt

    def _settle(self, event: Event, attempt: Attempt) -> None:
        fields = {"event_id": event.event_id, "kind": event.kind, "host": self.host}
        attempts = event.attempts + 1
        if attempt.outcome is Outcome.DELIVERED:
            self.outbox.delivered(event.id)
            self._count(Outcome.DELIVERED)
            log.debug("webhook.delivered", attempts=attempts, **fields)
            return
        self._count(attempt.outcome)
        now = self._clock()
        too_old = now - event.at >= MAX_EVENT_AGE_SECONDS
        refused = attempt.outcome is Outcome.REFUSED
        if too_old or (refused and attempts >= REFUSED_ATTEMPTS):
            self.outbox.give_up(event.id, attempt.detail)
            self._count("gave_up")
            log.error(
                "webhook.gave_up",
                attempts=attempts,
                reason=attempt.detail,
                why="refused by the receiver" if refused else "too old",
                **fields,
            )
            return
        delay = self._pause(attempts, attempt.retry_after)
        self.outbox.retry_later(event.id, now + delay, attempt.detail)
        log.warning(
            "webhook.retry",
            attempts=attempts,
            reason=attempt.detail,
            retry_in=round(delay, 1),
            **fields,
        )

    def _pause(self, failures: int, retry_after: float | None) -> float:
        t = self.timing
        if retry_after is not None:
            return min(t.cap, max(t.base, retry_after))
        return max(t.base, full_jitter(failures, t.base, t.cap, self._rand))

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.webhook_delivery(str(outcome))
