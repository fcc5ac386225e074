"""diskwork: file work in threads that take turns, and give the turn up while they wait."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from pathlib import Path

import pytest

from hrec_ingest import diskwork
from hrec_ingest.fsops import CHUNK_BYTES, sha256_file

WAIT_SECONDS = 10.0


async def test_workers_hold_the_turn_one_at_a_time(tmp_path: Path) -> None:
    inside = 0
    most_inside = 0
    count_lock = threading.Lock()

    def work() -> None:
        nonlocal inside, most_inside
        with count_lock:
            inside += 1
            most_inside = max(most_inside, inside)
        for _ in range(200):
            os.stat(tmp_path)  # each call gives up the GIL: a chance for another thread
        with count_lock:
            inside -= 1

    await asyncio.gather(*(diskwork.in_thread(work) for _ in range(6)))
    assert most_inside == 1


async def test_a_worker_waiting_in_fsync_lets_another_take_the_turn() -> None:
    other_ran = threading.Event()

    def waits_for_the_disk() -> bool:
        with diskwork.turn_released():
            # Stands in for a slow fsync: only another worker can end this wait.
            return other_ran.wait(WAIT_SECONDS)

    def other() -> None:
        other_ran.set()

    waiting = asyncio.ensure_future(diskwork.in_thread(waits_for_the_disk))
    await diskwork.in_thread(other)
    assert await waiting is True


async def test_fsync_gives_the_turn_up_and_takes_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held_during_fsync: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        held_during_fsync.append(diskwork._TURN.locked())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    def write_and_sync() -> bool:
        fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.write(fd, b"x")
            diskwork.fsync(fd)
            return diskwork._TURN.locked()
        finally:
            os.close(fd)

    assert await diskwork.in_thread(write_and_sync) is True
    assert held_during_fsync == [False]
    assert not diskwork._TURN.locked()


async def test_an_error_gives_the_turn_back() -> None:
    def fails_while_released() -> None:
        with diskwork.turn_released():
            raise OSError("disk gone")

    def fails() -> None:
        raise ValueError("bug")

    with pytest.raises(OSError, match="disk gone"):
        await diskwork.in_thread(fails_while_released)
    with pytest.raises(ValueError, match="bug"):
        await diskwork.in_thread(fails)
    assert await diskwork.in_thread(lambda: "next") == "next"
    assert not diskwork._TURN.locked()


async def test_outside_a_turn_nothing_is_released(tmp_path: Path) -> None:
    # Commands call fsops directly or through a plain thread: no turn to give up.
    big = tmp_path / "big"
    big.write_bytes(b"a" * (CHUNK_BYTES + 1))

    def plain() -> str:
        with diskwork.turn_released():
            pass
        return sha256_file(big)

    with diskwork.turn_released():
        pass
    assert len(await asyncio.to_thread(plain)) == 64
    assert not diskwork._TURN.locked()


async def test_a_large_file_is_hashed_without_the_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * (CHUNK_BYTES + 1))
    small = tmp_path / "small"
    small.write_bytes(b"a")
    free_while_hashing: list[bool] = []
    real_sha256 = hashlib.sha256

    class Recording:
        def __init__(self) -> None:
            self._digest = real_sha256()

        def update(self, data: memoryview) -> None:
            free_while_hashing.append(not diskwork._TURN.locked())
            self._digest.update(data)

        def hexdigest(self) -> str:
            return self._digest.hexdigest()

    monkeypatch.setattr(hashlib, "sha256", Recording)
    await diskwork.in_thread(sha256_file, big)
    assert free_while_hashing and all(free_while_hashing)
    free_while_hashing.clear()
    await diskwork.in_thread(sha256_file, small)
    assert free_while_hashing == [False]
