"""``python -m benchmarks.startup``: start-up with a large journal and a full inbox.

The journal holds ``--rows`` file rows (mostly archived and failed history,
some in tasks still in flight, whose twins the simulator holds in
processing) and the inbox ``--files`` new audio files in a tree of
sub-folders. The daemon starts with METRICS_ADDR and a NOTIFY_SOCKET of our
own; measured from the moment the process is started: READY=1, the first
200 of ``/readyz``, and the first ``POST /hrec`` the simulator receives,
against the targets (ready within 10 s, first batch within
STABLE_SECONDS + 2 s).

Example::

    .venv/bin/python -m benchmarks.startup --rows 100000 --files 10000
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from benchmarks.processes import peak_rss, sample
from benchmarks.scale import (
    SUPERVISOR,
    Layout,
    NotifySocket,
    daemon_process,
    load_average,
    metrics_port,
    simulator_options,
    small_wav,
    tree_paths,
    wait_ready,
    wait_until,
    write_audio,
)
from hrec_ingest.journal import FileState, TaskState
from hrec_ingest.miaop.models import TaskStatus
from hrec_ingest.simulator import RunningSimulator, running_simulator
from samples.inflight import bulk_seed_journal, seed_server_task

FILES_PER_TASK = 20


def seed_history(journal: Path, rows: int, now: float) -> None:
    """``rows`` file rows of finished work: 95 % archived, 5 % failed, in exported tasks."""
    db = sqlite3.connect(journal, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        tasks = []
        files = []
        for i in range(rows):
            task_id = f"hist{i // FILES_PER_TASK:012d}"
            when = now - 86_400 * 30 + i  # a month of history, one file a second
            if i % FILES_PER_TASK == 0:
                tasks.append((task_id, TaskState.EXPORTED, when))
            rel = f"old/{i // 1000:03d}/call-{i:07d}.wav"
            failed = i % 20 == 0
            state = FileState.FAILED if failed else FileState.ARCHIVED
            kind = "failed" if failed else "archive"
            digest = hashlib.sha256(rel.encode()).hexdigest()
            stem = None if failed else rel[:-4]
            files.append((rel, digest, task_id, i % FILES_PER_TASK + 1, state, stem, kind, when))
        db.executemany(
            "INSERT INTO tasks(task_id, tenant, language, task_name, state, post_attempts,"
            " server_status, created_at, submitted_at, updated_at)"
            " VALUES (?, 'demo', 'English', 'history', ?, 1, 'sttDone', ?, ?, ?)",
            [(t, s, w, w, w) for t, s, w in tasks],
        )
        db.executemany(
            "INSERT INTO files(tenant, rel_path, size, mtime_ns, inode, sha256, task_id,"
            " meeting_index, state, out_stem, dest_kind, dest_rel, taken_at, updated_at)"
            " VALUES ('demo', ?, 1000, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(r, d, t, m, s, o, k, r, w, w) for r, d, t, m, s, o, k, w in files],
        )
        db.execute("COMMIT")
    finally:
        db.close()


def seed(sim: RunningSimulator, layout: Layout, rows: int, in_flight: int, files: int) -> None:
    journal = layout.create_journal()
    now = time.time()
    seed_history(journal, rows - in_flight, now)
    tasks = [
        seed_server_task(
            sim.state,
            pending_seconds=1,
            processing_seconds=86_400,
            files=FILES_PER_TASK,
            age_seconds=600,
            supervisor=SUPERVISOR,
            prefix="flight",
        )
        for _ in range(in_flight // FILES_PER_TASK)
    ]
    bulk_seed_journal(
        journal, tasks, known_at=now - 60, next_poll_at=now, server_status=TaskStatus.PROCESSING
    )
    template = small_wav(0.1)
    for serial, rel in enumerate(r for task in tasks for r in task.rel_paths):
        write_audio(layout.inbox / rel, template, serial)
    old = time.time() - 3600  # dropped a while ago: stable from the daemon's first look
    for serial, rel in enumerate(tree_paths(files), start=in_flight):
        path = layout.inbox / rel
        write_audio(path, template, serial)
        _touch(path, old)


def _touch(path: Path, when: float) -> None:
    os.utime(path, (when, when))


async def measure(
    rows: int, in_flight: int, files: int, stable: float, root: Path
) -> dict[str, Any]:
    layout = Layout(root)
    async with running_simulator(simulator_options()) as sim:
        seed(sim, layout, rows, in_flight, files)
        port = metrics_port()
        notify = NotifySocket(root / "notify.sock")
        settings = layout.settings(sim.url, port, STABLE_SECONDS=str(stable))
        try:
            env = {"NOTIFY_SOCKET": str(notify.path)}
            with daemon_process(root, settings, env) as daemon:
                mono_offset = time.time() - time.monotonic()
                readyz = await wait_ready(daemon, f"http://127.0.0.1:{port}/readyz", 60)
                cpu_to_ready = sample(daemon.pid).cpu_seconds
                notified = await wait_until(
                    lambda: notify.seen("READY=1") is not None, 30, "READY=1"
                )
                await wait_until(
                    lambda: sim.state.count("hrec") > 0, 60 + stable, "the first POST /hrec"
                )
                ready_notified = notify.seen("READY=1") or notified
                # When the upload arrived, not when it was answered.
                first_post = min(
                    e.started or e.time for e in sim.state.request_log if e.route == "hrec"
                )
                first_post += mono_offset
                peak = peak_rss(daemon.pid)
                scans = daemon.events("watcher.scanned")
        finally:
            notify.close()
    start = daemon.started_at
    return {
        "journal_rows": rows,
        "in_flight_files": in_flight,
        "inbox_files": files + in_flight,
        "stable_seconds": stable,
        "ready_notify_seconds": round(ready_notified - start, 2),
        "readyz_seconds": round(readyz - start, 2),
        "cpu_seconds_to_ready": round(cpu_to_ready, 2),
        "first_post_seconds": round(first_post - start, 2),
        "first_post_after_ready_seconds": round(first_post - ready_notified, 2),
        "target_ready_seconds": 10,
        "target_first_post_seconds": stable + 2,
        "first_scan": scans[0] if scans else None,
        "peak_rss_mb": round(peak / 1e6, 1),
        "machine": load_average(),
    }


@click.command()
@click.option("--rows", type=int, default=100_000, show_default=True, help="file rows in journal")
@click.option("--in-flight", type=int, default=2_000, show_default=True, help="of them in flight")
@click.option("--files", type=int, default=10_000, show_default=True, help="new files in inbox")
@click.option("--stable-seconds", type=float, default=5.0, show_default=True)
@click.option("--runs", type=int, default=1, show_default=True)
@click.option("--keep", is_flag=True, help="keep the folders (printed) for a look afterwards")
def main(
    rows: int, in_flight: int, files: int, stable_seconds: float, runs: int, keep: bool
) -> None:
    """Start the daemon on a big journal and a full inbox; time readiness and the first batch."""
    for _ in range(runs):
        root = Path(tempfile.mkdtemp(prefix="hrec-startup-"))
        try:
            result = asyncio.run(measure(rows, in_flight, files, stable_seconds, root))
        finally:
            if keep:
                click.echo(f"folders kept in {root}", err=True)
            else:
                shutil.rmtree(root, ignore_errors=True)
        click.echo(json.dumps(result))
        click.echo(
            f"READY=1 after {result['ready_notify_seconds']} s, /readyz after "
            f"{result['readyz_seconds']} s (target 10; {result['cpu_seconds_to_ready']} s of CPU), "
            "first POST /hrec after "
            f"{result['first_post_seconds']} s (target {stable_seconds + 2:g}; "
            f"{result['first_post_after_ready_seconds']} s after READY), "
            f"peak RSS {result['peak_rss_mb']} MB, {result['machine']}",
            err=True,
        )


if __name__ == "__main__":
    main()
