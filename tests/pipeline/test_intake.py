"""Intake on real files and a real journal: files waiting together are examined together.

Each file still gets its own outcome: a good one goes on, a bad one to FAILED_DIR,
and a bug met by one lets only that one go.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from e2e.harness import wait_for
from hrec_ingest.journal import Journal
from hrec_ingest.pipeline import intake
from hrec_ingest.pipeline.batcher import ReadyFile
from hrec_ingest.pipeline.claims import Claims
from hrec_ingest.pipeline.intake import Intake
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.pipeline.outcomes import Outcomes
from hrec_ingest.pipeline.watcher import InboxLayout, Signature, StableFile
from samples.audio import wav


def stable(inbox: Path, name: str) -> StableFile:
    path = inbox / name
    return StableFile("demo", name, path, Signature.of(os.lstat(path)), time.monotonic())


async def test_a_bug_met_by_one_file_lets_only_that_file_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("a.wav", "bug.wav", "c.wav"):
        wav(inbox / name)
    (inbox / "notes.wav").write_bytes(b"not audio at all" * 10)
    real_sniff = intake.sniff_audio

    def sniff(path: Path, **kwargs: object) -> object:
        if path.name == "bug.wav":
            raise RuntimeError("a bug in the sniffer")
        return real_sniff(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "sniff_audio", sniff)
    hops: list[int] = []
    real_examine_each = intake._examine_each

    def examine_each(files: list[StableFile], max_bytes: int) -> list[object]:
        hops.append(len(files))
        return real_examine_each(files, max_bytes)  # type: ignore[return-value]

    monkeypatch.setattr(intake, "_examine_each", examine_each)
    (tmp_path / "state").mkdir()
    journal = Journal.open(tmp_path / "state")
    layout = InboxLayout(inbox, frozenset({"demo"}), multi_tenant=False)
    folders = Folders(
        layout, tmp_path / "out", tmp_path / "archive", tmp_path / "failed", ("json",)
    )
    claims = Claims()
    names = ["a.wav", "bug.wav", "notes.wav", "c.wav"]
    source: asyncio.Queue[StableFile] = asyncio.Queue()
    for name in names:
        claims.claim(("demo", name))
        source.put_nowait(stable(inbox, name))
    ready: asyncio.Queue[ReadyFile] = asyncio.Queue()
    stage = Intake(source, ready, Outcomes(journal, folders, claims), claims, 1 << 30, workers=1)
    runner = asyncio.create_task(stage.run())
    try:
        await wait_for(
            lambda: ready.qsize() == 2 and ("demo", "bug.wav") not in claims,
            10,
            "the two good files, and the bug's file let go",
        )
        await wait_for(
            lambda: (tmp_path / "failed" / "demo" / "notes.wav").exists(),
            10,
            "the non-audio file in FAILED_DIR",
        )
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert hops == [4]  # the files waiting together took one thread hop
    passed = [ready.get_nowait() for _ in range(2)]
    assert [f.stable.rel_path for f in passed] == ["a.wav", "c.wav"]
    assert all(len(f.sha256) == 64 for f in passed)
    assert (inbox / "bug.wav").exists()  # left in the inbox for the watcher to offer again
    assert ("demo", "a.wav") in claims and ("demo", "c.wav") in claims
    journal.close()
