"""Events end to end: the real daemon process, the simulator and a real receiver on loopback."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hook_receiver import HookReceiver, running_receiver

from e2e.harness import PASSWORD, Deployment, demo_settings, make_wav, sha256, wait_for
from hrec_ingest.events.signing import SIGNATURE_HEADER
from hrec_ingest.simulator import SimulatorOptions, running_simulator

pytestmark = pytest.mark.timeout(60)

SECRET = "hook-secret-e2e-8812"


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    options = SimulatorOptions(
        users={"demo": {"user": PASSWORD}},
        pending_seconds=0.2,
        processing_seconds=0.3,
        seed=7,
        error_files=("bad-*.wav",),
    )
    async with running_simulator(options) as sim:
        d = Deployment(tmp_path, sim)
        d.settings = demo_settings(d)
        try:
            yield d
        finally:
            for daemon in d.daemons:
                if daemon.alive():
                    daemon.kill()


def complete(receiver: HookReceiver) -> bool:
    """Both files reported, and every task they were in reported submitted and done."""
    files = receiver.of_kind("file.exported") + receiver.of_kind("file.failed")
    tasks = {f["taskId"] for f in files}
    submitted = {t["taskId"] for t in receiver.of_kind("task.submitted")}
    done = {t["taskId"] for t in receiver.of_kind("task.done")}
    return len(files) == 2 and tasks <= submitted and tasks <= done


def seed_old_files(d: Deployment) -> tuple[Path, Path]:
    """An archived file and a transcript of 40 days ago, from an earlier life of the site."""
    stamp = time.time() - 40 * 86400
    old_audio = d.archive / "demo" / "2025" / "old.wav"
    old_transcript = d.out / "demo" / "old.json"
    for path in (old_audio, old_transcript):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF" + bytes(96))
        os.utime(path, (stamp, stamp))
    return old_audio, old_transcript


async def test_webhooks_manifest_and_retention_of_a_run(deployment: Deployment) -> None:
    """All of it on: a good and a bad file, a receiver failing once, an old archive."""
    d = deployment
    old_audio, old_transcript = seed_old_files(d)
    async with running_receiver(SECRET) as receiver:
        receiver.statuses = [500]  # the first delivery fails: it must come again later
        d.settings |= {"WEBHOOK_URL": receiver.url, "WEBHOOK_SECRET": SECRET}
        d.settings |= {"BATCH_MAX_FILES": "2", "ARCHIVE_RETENTION_DAYS": "30"}
        good = make_wav(d.inbox / "good.wav", seed=1)
        make_wav(d.inbox / "bad-1.wav", seed=2)
        daemon = d.start()
        await wait_for(lambda: complete(receiver), 30, "every event delivered")
        assert await d.stop(daemon) == 0

    # Webhooks: all signed; the one refused with 500 came again, byte for byte.
    assert receiver.bad_signatures == 0
    assert all(SIGNATURE_HEADER in delivery.headers for delivery in receiver.deliveries)
    refused, *_ = receiver.deliveries
    assert refused.status == 500
    again = receiver.accepted()[refused.event_id]
    assert again.body == refused.body
    assert again.headers[SIGNATURE_HEADER] == refused.headers[SIGNATURE_HEADER]
    (exported,) = receiver.of_kind("file.exported")
    assert exported["file"] == "good.wav" and exported["sha256"] == sha256(good)
    assert exported["archived"] == "demo/good.wav" and "demo/good.json" in exported["outputs"]
    (failed,) = receiver.of_kind("file.failed")
    assert failed["file"] == "bad-1.wav" and failed["failed"] == "demo/bad-1.wav"
    assert failed["error"]["name"] and failed["stage"] == "process"
    assert all(t["count"] >= 1 for t in receiver.of_kind("task.submitted"))

    # The manifest: one line per file, with the same event ids.
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    manifest = d.out / "demo" / f"manifest-{today}.jsonl"
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted((r["file"], r["outcome"]) for r in lines) == [
        ("bad-1.wav", "failed"),
        ("good.wav", "exported"),
    ]
    assert {r["id"] for r in lines} == {exported["id"], failed["id"]}

    # Retention: the old archived audio went at start; the new one and every transcript stay.
    (purged,) = daemon.events("archive.purged")
    assert purged["files"] == 1 and purged["bytes"] == 100
    assert not old_audio.exists() and not old_audio.parent.exists()
    assert (d.archive / "demo" / "good.wav").read_bytes() == good
    assert old_transcript.exists()

    log = daemon.log_path.read_text()
    assert SECRET not in log and PASSWORD not in log
    assert "config.not_implemented" not in log
