"""The webhook sender against a real receiver on 127.0.0.1:0, with a real journal on disk."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

import aiohttp
import pytest
from event_samples import live_task
from hook_receiver import HookReceiver, running_receiver

from hrec_ingest.events.signing import ATTEMPT_HEADER, SIGNATURE_HEADER, signature
from hrec_ingest.events.webhook import (
    REFUSED_ATTEMPTS,
    Outcome,
    WebhookSender,
    WebhookTiming,
    classify,
)
from hrec_ingest.journal import Journal
from hrec_ingest.metrics import Metrics
from hrec_ingest.pipeline.layout import Folders

pytestmark = pytest.mark.timeout(30)

SECRET = "hook-secret-0451"
FAST = WebhookTiming(base=0.05, cap=0.2, idle_poll=0.05)


@pytest.fixture
async def receiver() -> AsyncIterator[HookReceiver]:
    async with running_receiver(SECRET) as started:
        yield started


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as opened:
        yield opened


class MakeSender(Protocol):
    def __call__(
        self,
        *,
        url: str | None = None,
        secret: str | None = SECRET,
        metrics: Metrics | None = None,
        timing: WebhookTiming = FAST,
        clock: Callable[[], float] = time.time,
    ) -> WebhookSender: ...


@pytest.fixture
def make_sender(journal: Journal, folders: Folders, receiver: HookReceiver) -> MakeSender:
    """Factory: a sender to the test's receiver with fast, fixed back-off."""

    def make(
        *,
        url: str | None = None,
        secret: str | None = SECRET,
        metrics: Metrics | None = None,
        timing: WebhookTiming = FAST,
        clock: Callable[[], float] = time.time,
    ) -> WebhookSender:
        return WebhookSender(
            journal.outbox,
            folders,
            url or receiver.url,
            secret,
            metrics=metrics,
            timing=timing,
            clock=clock,
            rand=lambda: 0.5,
        )

    return make


async def drain(sender: WebhookSender, session: aiohttp.ClientSession, rounds: int = 50) -> None:
    """Run delivery passes (sleeping as the sender asks) until nothing is pending."""
    for _ in range(rounds):
        if sender.outbox.depth()["webhook"] == 0:
            return
        await asyncio.sleep(await sender.deliver_due(session))
    raise AssertionError(f"still pending after {rounds} passes: {sender.outbox.depth()}")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.DELIVERED),
        (204, Outcome.DELIVERED),
        (500, Outcome.FAILED),
        (503, Outcome.FAILED),
        (408, Outcome.FAILED),
        (429, Outcome.FAILED),
        (301, Outcome.REFUSED),
        (400, Outcome.REFUSED),
        (404, Outcome.REFUSED),
    ],
)
def test_classify(status: int, outcome: Outcome) -> None:
    assert classify(status) is outcome


async def test_every_event_is_delivered_signed_once(
    journal: Journal,
    receiver: HookReceiver,
    session: aiohttp.ClientSession,
    make_sender: MakeSender,
) -> None:
    metrics = Metrics()
    sender = make_sender(metrics=metrics)
    live_task(journal, "T1", {"a.wav": "exported", "b.wav": "failed"})
    await drain(sender, session)
    assert receiver.bad_signatures == 0
    assert [d.document["event"] for d in receiver.deliveries] == [
        "task.submitted",
        "task.done",
        "file.exported",
        "file.failed",
    ]
    for delivery in receiver.deliveries:
        assert delivery.document["id"] == delivery.event_id
        assert delivery.headers["X-Hrec-Event"] == delivery.document["event"]
        assert delivery.headers["Content-Type"] == "application/json"
        assert delivery.headers[ATTEMPT_HEADER] == "1"
    sample = metrics.registry.get_sample_value
    assert sample("hrec_webhook_deliveries_total", {"outcome": "delivered"}) == 4
    assert journal.outbox.depth()["webhook"] == 0


async def test_failed_delivery_is_resent_with_the_same_bytes_and_signature(
    journal: Journal,
    receiver: HookReceiver,
    session: aiohttp.ClientSession,
    make_sender: MakeSender,
) -> None:
    receiver.statuses = [500, 503]
    sender = make_sender()
    live_task(journal, "T1", {"a.wav": "exported"})
    await drain(sender, session)
    first, second, third = receiver.deliveries[:3]
    assert [d.status for d in (first, second, third)] == [500, 503, 200]
    assert first.body == second.body == third.body
    assert first.headers[SIGNATURE_HEADER] == third.headers[SIGNATURE_HEADER]
    assert first.headers[SIGNATURE_HEADER] == signature(first.body, SECRET)
    assert [d.headers[ATTEMPT_HEADER] for d in (first, second, third)] == ["1", "2", "3"]
    assert len(receiver.accepted()) == 3  # task.submitted, task.done, file.exported


async def test_delivery_cut_by_a_crash_is_resent_identically(
    tmp_path: Path,
    journal: Journal,
    folders: Folders,
    receiver: HookReceiver,
) -> None:
    live_task(journal, "T1", {"a.wav": "exported"})
    receiver.hold = asyncio.Event()  # the receiver has the body; the answer never comes back
    sender = WebhookSender(journal.outbox, folders, receiver.url, SECRET, timing=FAST)
    crashed = asyncio.create_task(sender.run())
    await asyncio.wait_for(receiver.arrived.wait(), 10)
    crashed.cancel()  # the process dies here: nothing was marked delivered
    await asyncio.gather(crashed, return_exceptions=True)
    journal.close()
    receiver.hold.set()
    receiver.hold = None

    reopened = Journal.open(tmp_path / "state")  # the next start
    try:
        restarted = WebhookSender(reopened.outbox, folders, receiver.url, SECRET, timing=FAST)
        async with aiohttp.ClientSession() as session:
            await drain(restarted, session)
    finally:
        reopened.close()
    before, after = receiver.deliveries[0], receiver.deliveries[1]
    assert before.event_id == after.event_id
    assert before.body == after.body
    assert before.headers[SIGNATURE_HEADER] == after.headers[SIGNATURE_HEADER]
    # A receiver that de-duplicates on the event id sees each event once.
    ids = [d.event_id for d in receiver.deliveries]
    assert len(ids) == 4 and len(set(ids)) == 3
    assert len(receiver.accepted()) == 3


async def test_refused_event_is_given_up_after_a_few_attempts(
    journal: Journal,
    receiver: HookReceiver,
    session: aiohttp.ClientSession,
    make_sender: MakeSender,
) -> None:
    metrics = Metrics()
    sender = make_sender(metrics=metrics)
    receiver.statuses = [404] * (3 * REFUSED_ATTEMPTS)  # a wrong path: refuses everything
    live_task(journal, "T1", {"a.wav": "exported"})
    await drain(sender, session)
    by_event: dict[str, int] = {}
    for delivery in receiver.deliveries:
        by_event[delivery.event_id] = by_event.get(delivery.event_id, 0) + 1
    assert list(by_event.values()) == [REFUSED_ATTEMPTS] * 3
    sample = metrics.registry.get_sample_value
    assert sample("hrec_webhook_deliveries_total", {"outcome": "gave_up"}) == 3
    assert sample("hrec_webhook_deliveries_total", {"outcome": "refused"}) == 3 * REFUSED_ATTEMPTS
    assert journal.outbox.depth()["webhook"] == 0  # nothing left to pile up


async def test_old_event_is_given_up_when_the_receiver_keeps_failing(
    journal: Journal,
    receiver: HookReceiver,
    session: aiohttp.ClientSession,
    make_sender: MakeSender,
) -> None:
    live_task(journal, "T1", {"a.wav": "exported"})
    receiver.statuses = [500] * 10
    tomorrow = time.time() + 25 * 3600
    sender = make_sender(clock=lambda: tomorrow)
    await drain(sender, session)
    assert len(receiver.deliveries) == 3  # one attempt each, then given up
    assert receiver.accepted() == {}


async def test_retry_after_is_honoured(
    journal: Journal,
    receiver: HookReceiver,
    session: aiohttp.ClientSession,
    make_sender: MakeSender,
) -> None:
    sender = make_sender(timing=WebhookTiming(base=0.01, cap=600, idle_poll=0.05))
    live_task(journal, "T1", {"a.wav": "exported"})
    receiver.statuses = [429]
    receiver.error_headers = {"Retry-After": "120"}
    started = time.time()
    pause = await sender.deliver_due(session)
    assert pause == 120  # the sender waits as asked ...
    (delivery,) = receiver.deliveries
    held = [e.event_id for e in journal.outbox.webhook_due(started + 119, 10)]
    assert delivery.event_id not in held  # ... and so does the event
    assert delivery.event_id in [e.event_id for e in journal.outbox.webhook_due(1e12, 10)]


async def test_unreachable_receiver_pauses_the_sender(
    journal: Journal, session: aiohttp.ClientSession, make_sender: MakeSender
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    metrics = Metrics()
    sender = make_sender(url=f"http://127.0.0.1:{port}/hook", metrics=metrics)
    live_task(journal, "T1", {"a.wav": "exported"})
    pause = await sender.deliver_due(session)
    assert pause >= FAST.base
    sample = metrics.registry.get_sample_value
    assert sample("hrec_webhook_deliveries_total", {"outcome": "failed"}) == 1  # one probe only
    assert journal.outbox.depth()["webhook"] == 3


async def test_without_secret_no_signature_is_sent(
    journal: Journal,
    receiver: HookReceiver,
    session: aiohttp.ClientSession,
    make_sender: MakeSender,
) -> None:
    sender = make_sender(secret=None)
    live_task(journal, "T1", {"a.wav": "exported"})
    await drain(sender, session)
    assert all(SIGNATURE_HEADER not in d.headers for d in receiver.deliveries)
    assert json.loads(receiver.deliveries[-1].body)["event"] == "file.exported"
