"""``python -m benchmarks.detection``: from a file becoming stable to its joining a batch.

The inbox tree holds ``--tree`` files already on their way (in tasks the
simulator holds in processing, their audio still in the inbox, as in any
busy call centre), so every rescan walks all of them. New files are then
written one by one, at random gaps, for longer than one RESCAN_SECONDS. A
file is *stable* at its last write plus STABLE_SECONDS; it *enters a batch*
at the batcher's ``file.batched`` log line. The delay between the two is
what is reported (p50, p99, max), against the target p99 < 1 s.

Example::

    .venv/bin/python -m benchmarks.detection --tree 10000 --drops 200
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from benchmarks.measure import epoch_of, percentile
from benchmarks.scale import (
    SUPERVISOR,
    Layout,
    daemon_process,
    load_average,
    metrics_port,
    simulator_options,
    small_wav,
    wait_ready,
    wait_until,
    write_audio,
)
from hrec_ingest.miaop.models import TaskStatus
from hrec_ingest.simulator import RunningSimulator, running_simulator
from samples.inflight import bulk_seed_journal, seed_server_task

FILES_PER_TASK = 20


def seed(sim: RunningSimulator, layout: Layout, tree: int) -> None:
    """``tree`` files in flight: in tasks held in processing, their audio in sub-folders."""
    tasks = [
        seed_server_task(
            sim.state,
            pending_seconds=1,
            processing_seconds=86_400,
            files=FILES_PER_TASK,
            age_seconds=600,
            supervisor=SUPERVISOR,
            folder=f"site-{n // 10:03d}/day-{n % 10:02d}/",
        )
        for n in range(tree // FILES_PER_TASK)
    ]
    now = time.time()
    bulk_seed_journal(
        layout.create_journal(),
        tasks,
        known_at=now - 60,
        next_poll_at=now,
        server_status=TaskStatus.PROCESSING,
    )
    template = small_wav(0.1)
    for serial, rel in enumerate(r for task in tasks for r in task.rel_paths):
        write_audio(layout.inbox / rel, template, serial)


async def drop_files(
    layout: Layout, count: int, gap: tuple[float, float], rng: random.Random
) -> dict[str, float]:
    """Write ``count`` new files one by one; return each one's last-write time (mtime)."""
    template = small_wav(0.5)
    written: dict[str, float] = {}
    for serial in range(count):
        rel = f"new/{serial % 7}/drop-{serial:05d}.wav"
        path = layout.inbox / rel
        write_audio(path, template, 1_000_000 + serial)
        written[rel] = path.stat().st_mtime
        await asyncio.sleep(rng.uniform(*gap))  # the arrival process being simulated
    return written


async def measure(
    tree: int, drops: int, stable: float, rescan: float, gap: tuple[float, float], root: Path
) -> dict[str, Any]:
    layout = Layout(root)
    rng = random.Random(tree + drops)
    async with running_simulator(simulator_options()) as sim:
        seed(sim, layout, tree)
        port = metrics_port()
        settings = layout.settings(
            sim.url,
            port,
            STABLE_SECONDS=str(stable),
            RESCAN_SECONDS=str(rescan),
            LOG_LEVEL="debug",
        )
        with daemon_process(root, settings) as daemon:
            await wait_ready(daemon, f"http://127.0.0.1:{port}/readyz", 60)
            await wait_until(
                lambda: bool(daemon.events("watcher.scanned")), 120, "the first scan", 0.5
            )
            started = time.monotonic()
            written = await drop_files(layout, drops, gap, rng)
            dropping = time.monotonic() - started

            def all_batched() -> bool:
                daemon.check_alive()
                return len(daemon.events("file.batched")) >= drops

            await wait_until(all_batched, 60 + stable, "every dropped file in a batch", 0.5)
            batched = {e["file"]: epoch_of(e["timestamp"]) for e in daemon.events("file.batched")}
            scans = [e for e in daemon.events("watcher.scanned") if not e.get("first")]
            first_scan = daemon.events("watcher.scanned")[0]
    delays = sorted(batched[rel] - (mtime + stable) for rel, mtime in written.items())
    return {
        "tree_files": tree,
        "dropped": drops,
        "dropping_seconds": round(dropping, 1),
        "stable_seconds": stable,
        "rescan_seconds": rescan,
        "rescans": len(scans),
        "first_scan": {k: first_scan.get(k) for k in ("files", "seconds")},
        "rescan_seconds_taken": [s.get("seconds") for s in scans],
        "delay_p50": round(percentile(delays, 0.50), 3),
        "delay_p99": round(percentile(delays, 0.99), 3),
        "delay_max": round(delays[-1], 3),
        "delay_min": round(delays[0], 3),
        "target_p99": 1.0,
        "machine": load_average(),
    }


@click.command()
@click.option("--tree", type=int, default=10_000, show_default=True, help="files in the inbox")
@click.option("--drops", type=int, default=200, show_default=True, help="new files written")
@click.option("--stable-seconds", type=float, default=2.0, show_default=True)
@click.option("--rescan-seconds", type=float, default=30.0, show_default=True)
@click.option("--min-gap", type=float, default=0.05, show_default=True, help="seconds")
@click.option("--max-gap", type=float, default=0.5, show_default=True, help="seconds")
@click.option("--keep", is_flag=True, help="keep the folders (printed) for a look afterwards")
def main(
    tree: int,
    drops: int,
    stable_seconds: float,
    rescan_seconds: float,
    min_gap: float,
    max_gap: float,
    keep: bool,
) -> None:
    """Measure how long new files wait, once stable, to join a batch, with a big inbox tree."""
    root = Path(tempfile.mkdtemp(prefix="hrec-detection-"))
    try:
        result = asyncio.run(
            measure(tree, drops, stable_seconds, rescan_seconds, (min_gap, max_gap), root)
        )
    finally:
        if keep:
            click.echo(f"folders kept in {root}", err=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
    click.echo(json.dumps(result))
    click.echo(
        f"{drops} files dropped beside {tree}: stable -> batched p50 {result['delay_p50']} s, "
        f"p99 {result['delay_p99']} s (target < 1), max {result['delay_max']} s; "
        f"{result['rescans']} rescans, {result['machine']}",
        err=True,
    )


if __name__ == "__main__":
    main()
