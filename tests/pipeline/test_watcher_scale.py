"""The watcher on real folders: naming, the scan, and new files found fast beside a big tree."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import watchfiles

from hrec_ingest.pipeline.claims import Claims
from hrec_ingest.pipeline.watcher import InboxLayout, StableFile, Watcher, scan_tree

pytestmark = pytest.mark.timeout(60)

AUDIO = frozenset({"wav", "mp3"})


def test_locate_names_tenant_and_relative_path(tmp_path: Path) -> None:
    single = InboxLayout(tmp_path / "inbox", frozenset({"demo"}), multi_tenant=False)
    assert single.locate(tmp_path / "inbox" / "a" / "b.wav") == ("demo", "a/b.wav")
    assert single.locate(str(tmp_path / "inbox" / "b.wav")) == ("demo", "b.wav")
    assert single.locate(tmp_path / "inbox") is None
    assert single.locate(tmp_path / "inbox-2" / "b.wav") is None, "a sibling is not inside"
    multi = InboxLayout(tmp_path / "inbox", frozenset({"acme", "beta"}), multi_tenant=True)
    assert multi.locate(tmp_path / "inbox" / "acme" / "x" / "c.wav") == ("acme", "x/c.wav")
    assert multi.locate(tmp_path / "inbox" / "other" / "c.wav") is None
    assert multi.locate(tmp_path / "inbox" / "acme") is None


def test_scan_names_files_and_says_why_others_are_left(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    for rel in ("acme/a.wav", "acme/sub/b.mp3", "acme/notes.txt", "acme/c.wav.part", "beta/d.wav"):
        (inbox / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / rel).write_bytes(b"x")
    (inbox / "acme" / ".hidden").mkdir()
    (inbox / "acme" / ".hidden" / "e.wav").write_bytes(b"x")
    (inbox / "stranger").mkdir()
    (inbox / "loose.wav").write_bytes(b"x")
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"x")
    os.symlink(outside, inbox / "acme" / "link.wav")
    layout = InboxLayout(inbox, frozenset({"acme", "beta"}), multi_tenant=True)

    before = time.monotonic()
    result = scan_tree(layout, AUDIO)

    assert sorted(key for key, _, _ in result.files) == [
        ("acme", "a.wav"),
        ("acme", "sub/b.mp3"),
        ("beta", "d.wav"),
    ]
    assert dict(result.ignored) == {
        ("acme", "notes.txt"): "extension not in AUDIO_EXTENSIONS",
        ("acme", "c.wav.part"): "partial or temporary name",
    }
    assert result.unknown_folders == {"stranger", "loose.wav"}
    assert all(before <= seen <= time.monotonic() for _, _, seen in result.files)
    assert all(signature.size == 1 for _, signature, _ in result.files)


def single_tenant_watcher(
    inbox: Path,
    *,
    stable: float,
    rescan: float = 600,
    claims: Claims | None = None,
    output: asyncio.Queue[StableFile] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Watcher:
    return Watcher(
        InboxLayout(inbox, frozenset({"demo"}), multi_tenant=False),
        audio_extensions=AUDIO,
        stable_seconds=stable,
        rescan_seconds=rescan,
        claims=Claims() if claims is None else claims,
        output=asyncio.Queue() if output is None else output,
        clock=clock,
    )


@asynccontextmanager
async def watching(
    inbox: Path, claims: Claims, stable: float, rescan: float
) -> AsyncIterator[tuple[Watcher, asyncio.Queue[StableFile]]]:
    output: asyncio.Queue[StableFile] = asyncio.Queue()
    watcher = single_tenant_watcher(
        inbox, stable=stable, rescan=rescan, claims=claims, output=output
    )
    stop = asyncio.Event()
    running = asyncio.create_task(watcher.run(stop))
    try:
        yield watcher, output
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)


def held_tree(inbox: Path, count: int = 600) -> list[tuple[str, str]]:
    """``count`` files in folders of 100 below ``inbox``, as (tenant, path) claims already held."""
    held = [("demo", f"site-{i // 100}/held-{i}.wav") for i in range(count)]
    for folder in {rel.rsplit("/", 1)[0] for _, rel in held}:
        (inbox / folder).mkdir(parents=True)
    for _, rel in held:
        (inbox / rel).write_bytes(b"held")
    return held


async def test_new_files_are_found_fast_beside_a_big_tree_being_rescanned(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    held = held_tree(inbox)
    stable = 0.2
    # Rescans back to back: each one walks every held file while new ones arrive.
    async with watching(inbox, Claims(held), stable, rescan=0.05) as (watcher, output):
        delays = []
        for i in range(6):
            path = inbox / "new" / f"call-{i}.wav"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(b"new audio")
            stable_at = path.stat().st_mtime + stable
            found = await asyncio.wait_for(output.get(), timeout=stable + 5)
            delays.append(time.time() - stable_at)
            assert found.rel_path == f"new/call-{i}.wav"
        assert output.empty(), "a held file was handed on"
    assert max(delays) < 1.0, f"stable -> handed on took {max(delays):.2f} s at worst"


async def test_files_already_there_count_as_seen_when_their_folder_was_read(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "a").mkdir(parents=True)
    (inbox / "a" / "old.wav").write_bytes(b"x")
    started = time.monotonic()
    async with watching(inbox, Claims(), stable=0.5, rescan=60) as (_, output):
        found = await asyncio.wait_for(output.get(), timeout=5)
    assert found.rel_path == "a/old.wav"
    assert 0.5 <= found.stable_at - started < 1.5


async def test_files_dropped_while_the_watcher_starts_are_not_left_to_the_rescan(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "inbox"
    held = held_tree(inbox)
    (inbox / "new").mkdir()
    async with watching(inbox, Claims(held), stable=0.2, rescan=600) as (_, output):
        # Written one by one from the moment the watcher starts, through its first scan.
        for i in range(40):
            (inbox / "new" / f"call-{i}.wav").write_bytes(b"new audio")
            await asyncio.sleep(0.01)  # the arrival of files, not a wait for a result
        found: set[str] = set()
        async with asyncio.timeout(5):
            while len(found) < 40:
                found.add((await output.get()).rel_path)
    assert found == {f"new/call-{i}.wav" for i in range(40)}


async def test_a_file_replaced_within_one_batch_of_events_is_still_taken(tmp_path: Path) -> None:
    """Deleted and made again before the events arrive: it is looked at as it is now."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    async with watching(inbox, Claims(), stable=0.3, rescan=600) as (_, output):
        await asyncio.sleep(0.3)  # past the first scan, so that events bring the file
        (inbox / "call.wav").write_bytes(b"first")
        (inbox / "call.wav").unlink()
        (inbox / "call.wav").write_bytes(b"second take")
        found = await asyncio.wait_for(output.get(), timeout=10)
    assert found.rel_path == "call.wav"
    assert found.signature.size == len(b"second take")


@pytest.mark.parametrize("deleted_last", [False, True])
async def test_a_batch_with_deleted_and_added_for_one_path_looks_at_the_path_as_it_is(
    tmp_path: Path, deleted_last: bool
) -> None:
    """watchfiles gives a set: "deleted" may come after "added" for a file made again."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = inbox / "call.wav"
    path.write_bytes(b"second take")
    changes = [(watchfiles.Change.added, str(path)), (watchfiles.Change.deleted, str(path))]
    if not deleted_last:
        changes.reverse()
    watcher = single_tenant_watcher(inbox, stable=0.0)
    await watcher.on_events(changes, time.monotonic())
    assert watcher.pending_count == 1
    [found] = watcher.take_stable()
    assert found.rel_path == "call.wav"
    assert found.signature.size == len(b"second take")

    path.unlink()
    await watcher.on_events([(watchfiles.Change.deleted, str(path))], time.monotonic())
    assert watcher.pending_count == 0, "a path gone is forgotten"


async def test_a_file_still_growing_is_not_handed_on_until_it_stops(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    stable = 0.4
    async with watching(inbox, Claims(), stable=stable, rescan=600) as (_, output):
        path = inbox / "call.wav"
        with path.open("wb") as copying:
            for _ in range(6):
                copying.write(b"x" * 1000)
                copying.flush()
                await asyncio.sleep(stable / 2)  # a slow copy: written to again within STABLE
                assert output.empty(), "handed on while still being written"
        found = await asyncio.wait_for(output.get(), timeout=10)
    assert found.signature.size == 6000


class SteppingClock:
    """A clock that moves on by an uneven step at every reading, as a busy process's does."""

    def __init__(self, seed: int) -> None:
        self.now = 1000.0
        self._random = random.Random(seed)

    def __call__(self) -> float:
        self.now += self._random.uniform(0.0, 0.002)
        return self.now


@pytest.mark.parametrize("seed", range(5))
async def test_every_stable_file_is_taken_however_the_clock_moves_between_readings(
    tmp_path: Path, seed: int
) -> None:
    """A file falling due between two readings of the clock is not left pending for ever.

    Found as a file dropped during a server outage and never sent: the watcher once
    compared two readings taken a GIL hand-off apart, dropped the due entry and kept
    the file pending, and a rescan seeing the same file then changed nothing.
    """
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    names = {f"call-{i}.wav" for i in range(50)}
    for name in names:
        (inbox / name).write_bytes(b"x")
    clock = SteppingClock(seed)
    watcher = single_tenant_watcher(inbox, stable=1.0, clock=clock)
    taken: set[str] = set()
    for _ in range(5):  # each rescan observes every file not yet taken
        await watcher.rescan()
        for _ in range(2000):  # each pass reads the clock, which moves on
            taken.update(stable.rel_path for stable in watcher.take_stable())
    assert taken == names
    assert watcher.pending_count == 0
