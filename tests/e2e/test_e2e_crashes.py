"""kill -9 at chosen lines and at random moments: every file exported exactly once.

A sampler reads OUTPUT_DIR all along: a consumer must never see a partial or
unparseable transcript, whatever instant the daemon dies at.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from harness import (
    Deployment,
    make_wav,
    manifest_lines,
    sha256,
    transcript_files,
    visible_files,
    wait_for,
)

FULL = os.environ.get("HREC_FULL") == "1"


class OutputSampler:
    """Reads every visible file in OUTPUT_DIR over and over; records anything partial."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []
        self.samples = 0

    def sample(self) -> None:
        self.samples += 1
        for path in visible_files(self.root):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            if not data:
                self.problems.append(f"empty {path}")
            elif path.suffix == ".json":
                try:
                    json.loads(data)
                except ValueError:
                    self.problems.append(f"unparseable {path}")

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(0.02)


@asynccontextmanager
async def sampling(root: Path) -> AsyncIterator[OutputSampler]:
    sampler = OutputSampler(root)
    task = asyncio.create_task(sampler.run())
    try:
        yield sampler
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def drop(d: Deployment, count: int, start: int = 0) -> dict[str, bytes]:
    return {
        f"f{i:04d}.wav": make_wav(d.inbox / f"f{i:04d}.wav", seconds=1.0, seed=i)
        for i in range(start, start + count)
    }


def assert_each_exactly_once(d: Deployment, drops: dict[str, bytes]) -> None:
    for name, data in drops.items():
        stem = name.removesuffix(".wav")
        document = json.loads((d.out / "demo" / f"{stem}.json").read_text())
        assert document["source"]["sha256"] == sha256(data), name
        for fmt in ("txt", "srt", "vtt"):
            assert (d.out / "demo" / f"{stem}.{fmt}").exists(), f"{stem}.{fmt}"
        assert (d.archive / "demo" / name).read_bytes() == data, name
        assert d.uploads_of(sha256(data)) == 1, f"{name} in {d.uploads_of(sha256(data))} tasks"
    outputs = transcript_files(d.out / "demo")
    assert len(outputs) == 4 * len(drops), "transcripts written twice under other names"
    manifest = [line["sha256"] for line in manifest_lines(d.out)]
    assert sorted(manifest) == sorted(sha256(data) for data in drops.values()), "manifest lines"
    assert visible_files(d.inbox) == []
    assert visible_files(d.failed) == []


def journal_consistent(d: Deployment) -> None:
    db = sqlite3.connect(d.state / "journal.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        states = dict(db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
        tasks = dict(db.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall())
    finally:
        db.close()
    assert set(states) <= {"archived", "dropped"}, states
    assert set(tasks) <= {"exported", "empty", "rejected"}, tasks


@pytest.mark.parametrize(
    "point", ["after_intent", "before_post", "after_post", "mid_export", "before_archive"]
)
async def test_kill_at_a_chosen_line_then_restart(deployment: Deployment, point: str) -> None:
    d = deployment
    d.settings["BATCH_MAX_FILES"] = "3"
    drops = drop(d, 6)
    async with sampling(d.out) as sampler:
        crashing = d.start(failpoints=point)
        await wait_for(lambda: not crashing.alive(), 30, f"the daemon to die at {point}")
        assert crashing.proc.returncode == -9, crashing.log_path.read_text()[-2000:]
        survivor = d.start()
        await wait_for(
            lambda: len(visible_files(d.archive)) == len(drops), 60, "every file archived"
        )
        assert await d.stop(survivor) == 0
    assert sampler.problems == [] and sampler.samples > 10
    assert_each_exactly_once(d, drops)
    journal_consistent(d)


async def test_kill_at_random_moments(deployment: Deployment) -> None:
    """CI size: 40 files and 6 kills; HREC_FULL=1: 500 files and 25 kills."""
    d = deployment
    files, kills = (500, 25) if FULL else (40, 6)
    d.settings["BATCH_MAX_FILES"] = "5"
    d.settings["SUBMIT_CONCURRENCY"] = "4"
    rng = random.Random(2026)
    drops = drop(d, files)
    async with sampling(d.out) as sampler:
        for _ in range(kills):
            daemon = d.start()
            await asyncio.sleep(rng.uniform(0.3, 2.0))
            daemon.kill()
        survivor = d.start()
        await wait_for(
            lambda: len(visible_files(d.archive)) == len(drops),
            60 + files * 0.5,
            "every file archived",
        )
        assert await d.stop(survivor) == 0
    assert sampler.problems == []
    assert_each_exactly_once(d, drops)
    journal_consistent(d)
