"""Intake on real files and a real journal: files waiting together are examined together.

Each file still gets its own outcome: a good one goes on, a bad one to FAILED_DIR,
and a bug met by one lets only that one go.
"""

from __future__ import annotations

import asyncio
import hashlib
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

# These tests put faults into os's functions, or record them: the quick calls must use them.
pytestmark = pytest.mark.usefixtures("calls_through_os")


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
    real_sniff = intake.sniff_open_file
    bug_inode = os.lstat(inbox / "bug.wav").st_ino

    def sniff(fd: int, st: os.stat_result, **kwargs: object) -> object:
        if st.st_ino == bug_inode:
            raise RuntimeError("a bug in the sniffer")
        return real_sniff(fd, st, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "sniff_open_file", sniff)
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


def test_a_file_is_sniffed_and_hashed_through_one_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wav(tmp_path / "a.wav")
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: object, *args: int, **kwargs: int) -> int:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", counting_open)
    examined = intake._examine(stable(tmp_path, "a.wav"), max_bytes=10**9)
    monkeypatch.undo()
    assert opened == [str(tmp_path / "a.wav")]
    assert examined.sha256 == hashlib.sha256((tmp_path / "a.wav").read_bytes()).hexdigest()
    assert examined.audio is not None and examined.audio.format == "wav"
    assert examined.problem is None and not examined.changed


def test_a_file_replaced_after_the_watcher_saw_it_is_changed_not_read(tmp_path: Path) -> None:
    wav(tmp_path / "a.wav")
    seen = stable(tmp_path, "a.wav")
    wav(tmp_path / "b.wav", seconds=1.0)
    os.replace(tmp_path / "b.wav", tmp_path / "a.wav")  # same name, another inode
    examined = intake._examine(seen, max_bytes=10**9)
    assert examined.changed and examined.sha256 == ""


def test_a_symbolic_link_put_in_a_files_place_is_changed_not_followed(tmp_path: Path) -> None:
    wav(tmp_path / "a.wav")
    wav(tmp_path / "elsewhere.wav")
    seen = stable(tmp_path, "a.wav")
    (tmp_path / "a.wav").unlink()
    (tmp_path / "a.wav").symlink_to(tmp_path / "elsewhere.wav")
    examined = intake._examine(seen, max_bytes=10**9)
    assert examined.changed and examined.sha256 == ""


def test_a_file_that_is_not_audio_is_hashed_and_its_problem_named(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_bytes(b"not audio at all" * 10)
    examined = intake._examine(stable(tmp_path, "notes.wav"), max_bytes=10**9)
    assert examined.problem is not None and "not a recognised audio format" in str(examined.problem)
    assert examined.sha256 == hashlib.sha256(b"not audio at all" * 10).hexdigest()
    assert not examined.changed


def test_a_file_above_the_limit_is_refused_without_being_hashed(tmp_path: Path) -> None:
    wav(tmp_path / "a.wav")
    examined = intake._examine(stable(tmp_path, "a.wav"), max_bytes=100)
    assert examined.problem is not None and examined.problem.name == "TooLarge"
    assert examined.sha256 == "" and not examined.changed
