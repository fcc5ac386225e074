"""``python -m benchmarks.upload_big``: one very large file, uploaded in bounded memory.

Three measurements of the same file (default 2 GB, real data, not sparse):

1. reading it sequentially from disk alone (1 MiB reads), the ceiling;
2. uploading it with the daemon's own client (``MiaopClient.submit_task``)
   from this process to the simulator in another process, watching this
   process's RSS every 10 ms;
3. (``--daemon``) dropping it into a real daemon's inbox: the daemon's peak
   RSS over its RSS when ready, and the upload speed it logs.

Before 1 and 2 the page cache is dropped (``/proc/sys/vm/drop_caches``,
root only) so that both read from the disk; whether that worked is reported.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import click
import psutil

from benchmarks.daemon_run import run_daemon
from benchmarks.processes import (
    BENCH_PASSWORD,
    BENCH_TENANT,
    BENCH_USER,
    REPO,
    free_port,
    sample,
    simulator,
    wait_until,
)
from benchmarks.profiles import PROFILES
from benchmarks.report import machine
from benchmarks.workload import Workload, wav_header
from hrec_ingest.logs import configure_logging
from hrec_ingest.miaop import MiaopClient, TokenManager, UploadPart
from hrec_ingest.pipeline.taskmeta import new_task_id, task_metadata

RESULTS = Path(__file__).resolve().parent / "results"
BLOCK = 4 << 20


def write_big(path: Path, size: int) -> None:
    """A WAV of ``size`` bytes whose samples are a repeated block of random bytes."""
    header = wav_header(size - 44)
    block = os.urandom(BLOCK)
    with path.open("wb") as out:
        out.write(header)
        left = size - len(header)
        while left > 0:
            left -= out.write(block[: min(BLOCK, left)])
        out.flush()
        os.fsync(out.fileno())


def drop_caches() -> bool:
    """Ask the kernel to forget cached file pages; False if it is not allowed here."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def read_throughput(path: Path) -> dict[str, float]:
    """Seconds and MB/s of one sequential read of ``path`` in 1 MiB chunks."""
    buffer = bytearray(1 << 20)
    started = time.monotonic()
    total = 0
    with path.open("rb", buffering=0) as stream:
        while count := stream.readinto(buffer):
            total += count
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 3), "mb_per_second": round(total / seconds / 1e6, 1)}


async def upload(path: Path, url: str, api_url: str | None = None) -> dict[str, float]:
    """Upload ``path`` as a one-file task; seconds, MB/s and this process's peak RSS growth.

    Tokens come from the simulator at ``url``; the upload goes to ``api_url``
    (default: the simulator too).
    """
    process = psutil.Process()
    size = path.stat().st_size
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        tokens = TokenManager(session, url, BENCH_TENANT, BENCH_USER, BENCH_PASSWORD)
        client = MiaopClient(session, api_url or url, tokens)
        await tokens.access_token()  # the token request is not part of the upload
        task = task_metadata(
            task_id=new_task_id(),
            tenant=BENCH_TENANT,
            task_name="big upload",
            language="English",
            file_names=[path.name],
            supervisor_email="bench@example.com",
            supervisor_name="",
            generic_additional_info=None,
            now=datetime.now(UTC),
        )
        baseline = peak = process.memory_info().rss
        done = asyncio.Event()

        async def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, process.memory_info().rss)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        started = time.monotonic()
        try:
            await client.submit_task(task, [UploadPart(path, path.name, size)])
        finally:
            seconds = time.monotonic() - started
            done.set()
            await watcher
    return {
        "seconds": round(seconds, 3),
        "mb_per_second": round(size / seconds / 1e6, 1),
        "rss_growth_mb": round((peak - baseline) / 1e6, 1),
    }


@contextmanager
def sink(log_path: Path) -> Iterator[str]:
    """A ``benchmarks.sink`` process on a free port; its URL."""
    port = free_port()
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sink", "--port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_until(listening, 30, "the sink to listen")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def daemon_upload(path: Path, root: Path) -> dict[str, Any]:
    """Drop ``path`` into a real daemon's inbox; its RSS growth and its logged upload speed."""
    staging = root / "staging"
    staging.mkdir(parents=True)
    path.rename(staging / path.name)
    workload = Workload(staging, (path.name,), 0.0, (staging / path.name).stat().st_size)
    result = run_daemon(PROFILES["zero"], workload, root / "daemon")
    log = (root / "daemon" / "daemon.log").read_text(errors="replace").splitlines()
    uploads = [
        line
        for line in map(json.loads, filter(None, log))
        if line.get("event") == "task.submitted" and "bytes" in line
    ]
    # The client logs each upload; the warm-up file's comes first.
    big = [line for line in uploads if line["bytes"] == workload.total_bytes]
    upload_seconds = big[-1]["seconds"] if big else float("nan")
    return {
        "end_to_end_seconds": result["seconds"],
        "upload_seconds": upload_seconds,
        "upload_mb_per_second": round(workload.total_bytes / upload_seconds / 1e6, 1),
        "rss_start_mb": result["rss_start_mb"],
        "rss_peak_mb": result["rss_peak_mb"],
        "rss_growth_mb": round(result["rss_peak_mb"] - result["rss_start_mb"], 1),
        "cpu_ms": round(result["cpu_ms_per_file"], 1),
        "archived": result["archived"],
        "failed": result["failed"],
    }


@click.command()
@click.option("--size", default=2_000_000_000, show_default=True, help="File size in bytes.")
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/var/tmp"),
    show_default=True,
    help="Where the file is written (a real disk, not tmpfs).",
)
@click.option("--daemon/--no-daemon", "with_daemon", default=True, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def main(size: int, folder: Path, with_daemon: bool, out: Path | None) -> None:
    """Upload one large file and compare with reading it from disk alone."""
    root = folder / f"hrec-bench-big-{os.getpid()}"
    root.mkdir(parents=True)
    path = root / "big.wav"
    configure_logging("console", "error")  # the client's own log lines would drown the report
    report: dict[str, Any] = {"machine": machine(), "size_bytes": size}
    try:
        click.echo(f"writing {size / 1e9:.2f} GB to {path} ...")
        write_big(path, size)
        report["page_cache_dropped"] = drop_caches()
        report["read_cold"] = read_throughput(path)
        report["read_warm"] = read_throughput(path)
        with simulator(PROFILES["zero"].simulator_flags, root / "simulator.log") as sim:
            sim_before = sample(sim.proc.pid)
            drop_caches()
            report["upload_to_simulator_cold"] = asyncio.run(upload(path, sim.url))
            report["simulator_cpu_seconds"] = round(
                sample(sim.proc.pid).cpu_seconds - sim_before.cpu_seconds, 1
            )
            with sink(root / "sink.log") as sink_url:
                drop_caches()
                report["upload_cold"] = asyncio.run(upload(path, sim.url, sink_url))
                report["upload_warm"] = asyncio.run(upload(path, sim.url, sink_url))
        if with_daemon:
            report["daemon"] = daemon_upload(path, root)
    finally:
        for leftover in sorted(root.rglob("*"), reverse=True):
            leftover.unlink() if not leftover.is_dir() else leftover.rmdir()
        root.rmdir()
    cold, up = report["read_cold"]["mb_per_second"], report["upload_cold"]["mb_per_second"]
    report["upload_vs_read"] = round(up / cold, 2)
    for key, value in report.items():
        click.echo(f"{key}: {value}")
    path_out = out or RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-upload-big.json"
    path_out.parent.mkdir(parents=True, exist_ok=True)
    path_out.write_text(json.dumps(report, indent=2) + "\n")
    click.echo(f"results: {path_out}")


if __name__ == "__main__":
    main()
