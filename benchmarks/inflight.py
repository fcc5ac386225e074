"""``python -m benchmarks.inflight``: many tasks in flight, the daemon's memory and status requests.

Fills a journal with N submitted tasks (one file each by default, the audio
in the inbox as it would be) whose twins the simulator holds in
``sttProcessing``, starts the real daemon, and measures after a warm-up:
peak RSS (VmHWM, over the whole life), CPU, and the status requests
(``GET /api/tasks/{id}`` and the task list) per second and per task.

Example (the issue's sizes, about five minutes)::

    .venv/bin/python -m benchmarks.inflight --tasks 100 --tasks 1000 --tasks 20000
    .venv/bin/python -m benchmarks.inflight --tasks 20000 --no-list   # server without a list
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click
from aiohttp import web

from benchmarks.processes import peak_rss, sample
from benchmarks.scale import (
    SUPERVISOR,
    Layout,
    daemon_process,
    load_average,
    metrics_port,
    simulator_options,
    small_wav,
    wait_ready,
    write_audio,
)
from hrec_ingest.miaop.models import TaskStatus
from hrec_ingest.simulator import RunningSimulator, running_simulator
from samples.inflight import bulk_seed_journal, seed_server_task
from samples.lying_server import json_answer, lying_simulator

STATUS_ROUTES = ("task", "tasks")


@asynccontextmanager
async def simulator(with_list: bool) -> AsyncIterator[RunningSimulator]:
    """The simulator, in this process; without a list it answers 404 as an older server would."""
    options = simulator_options()
    if with_list:
        async with running_simulator(options) as sim:
            yield sim
        return

    def no_list(answer: object) -> web.StreamResponse:
        return json_answer({"message": "Cannot GET /api/tasks"}, status=404)

    async with lying_simulator(options, {"tasks": no_list}) as liar:
        yield liar.sim


def seed(sim: RunningSimulator, layout: Layout, tasks: int, files: int, inbox: bool) -> None:
    """N tasks in processing on the server and submitted in the journal, audio in the inbox."""
    rng = random.Random(tasks)
    seeded = [
        seed_server_task(
            sim.state,
            pending_seconds=1.0,
            processing_seconds=86_400.0,
            files=files,
            age_seconds=rng.uniform(120, 3600),
            supervisor=SUPERVISOR,
        )
        for _ in range(tasks)
    ]
    now = time.time()
    # The journal's news is a minute old: the daemon was restarted, or has just caught up.
    bulk_seed_journal(
        layout.create_journal(),
        seeded,
        known_at=now - 60,
        next_poll_at=now,
        server_status=TaskStatus.PROCESSING,
    )
    if inbox:
        template = small_wav(0.1)
        for serial, rel in enumerate(r for task in seeded for r in task.rel_paths):
            write_audio(layout.inbox / rel, template, serial)


def status_requests(sim: RunningSimulator, since: float, until: float) -> dict[str, int]:
    counts = dict.fromkeys(STATUS_ROUTES, 0)
    for entry in sim.state.request_log:
        if entry.route in counts and since <= entry.time < until:
            counts[entry.route] += 1
    return counts


async def measure(
    tasks: int, files: int, warmup: float, window: float, with_list: bool, inbox: bool, root: Path
) -> dict[str, Any]:
    layout = Layout(root)
    async with simulator(with_list) as sim:
        seed_started = time.monotonic()
        seed(sim, layout, tasks, files, inbox)
        seed_seconds = time.monotonic() - seed_started
        port = metrics_port()
        with daemon_process(root, layout.settings(sim.url, port)) as daemon:
            ready_at = await wait_ready(daemon, f"http://127.0.0.1:{port}/readyz", 120)
            ready_seconds = ready_at - daemon.started_at
            start = time.monotonic()
            await asyncio.sleep(warmup)  # the measurement window: nothing to wait for but time
            warm_end = time.monotonic()
            cpu_before = sample(daemon.pid)
            await asyncio.sleep(window)
            end = time.monotonic()
            cpu_after = sample(daemon.pid)
            daemon.check_alive()
            peak = peak_rss(daemon.pid)
            finished = len(daemon.events("task.finished"))
    warm = status_requests(sim, start, warm_end)
    steady = status_requests(sim, warm_end, end)
    total = sum(steady.values())
    return {
        "tasks": tasks,
        "files_per_task": files,
        "task_list": with_list,
        "seed_seconds": round(seed_seconds, 1),
        "ready_seconds": round(ready_seconds, 2),
        "peak_rss_mb": round(peak / 1e6, 1),
        "rss_end_mb": round(cpu_after.rss_bytes / 1e6, 1),
        "cpu_percent_steady": round(
            100 * (cpu_after.cpu_seconds - cpu_before.cpu_seconds) / (end - warm_end), 1
        ),
        "warmup": {"seconds": warmup, **warm},
        "steady": {"seconds": window, **steady},
        "status_requests_per_second": round(total / window, 2),
        "status_requests_per_task_hour": round(total / tasks * 3600 / window, 2),
        "single_polling_would_be_per_second": round(tasks / 10.0, 1),
        "tasks_finished": finished,
        "machine": load_average(),
    }


def show(result: dict[str, Any]) -> str:
    return (
        f"{result['tasks']:>6} tasks ({'list' if result['task_list'] else 'no list'}): "
        f"peak RSS {result['peak_rss_mb']} MB, ready in {result['ready_seconds']} s, "
        f"{result['status_requests_per_second']} status requests/s "
        f"(GET task {result['steady']['task']}, list {result['steady']['tasks']} in "
        f"{result['steady']['seconds']:.0f} s; single polling would ask "
        f"{result['single_polling_would_be_per_second']}/s), "
        f"{result['status_requests_per_task_hour']} per task-hour, "
        f"CPU {result['cpu_percent_steady']} %, {result['machine']}"
    )


@click.command()
@click.option("--tasks", "sizes", type=int, multiple=True, default=(20_000,), show_default=True)
@click.option("--files-per-task", type=int, default=1, show_default=True)
@click.option("--warmup", type=float, default=30.0, show_default=True, help="seconds")
@click.option("--window", type=float, default=60.0, show_default=True, help="seconds")
@click.option("--list/--no-list", "with_list", default=True, help="the server has a task list")
@click.option("--inbox/--no-inbox", default=True, help="the tasks' audio in the inbox")
@click.option("--keep", is_flag=True, help="keep the folders (printed) for a look afterwards")
def main(
    sizes: tuple[int, ...],
    files_per_task: int,
    warmup: float,
    window: float,
    with_list: bool,
    inbox: bool,
    keep: bool,
) -> None:
    """Measure the daemon with each number of tasks in flight; one JSON line and a summary each."""
    for tasks in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"hrec-inflight-{tasks}-"))
        try:
            result = asyncio.run(
                measure(tasks, files_per_task, warmup, window, with_list, inbox, root)
            )
        finally:
            if keep:
                click.echo(f"folders kept in {root}", err=True)
            else:
                shutil.rmtree(root, ignore_errors=True)
        click.echo(json.dumps(result))
        click.echo(show(result), err=True)


if __name__ == "__main__":
    main()
