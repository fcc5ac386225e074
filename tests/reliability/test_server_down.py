"""The server goes down (port closed, connections cut) for a while, then comes back.

The daemon must back off instead of hammering a dead server, say so on
/readyz (false during the outage, true again after), and finish every file
once the server is back. The outage lasts 10 s in CI and two minutes with
HREC_FULL=1. Requests refused during the outage never reach the simulator,
so they are counted from the daemon's own log: every HTTP attempt is one
``miaop.request`` line (LOG_LEVEL=debug).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from deployments import (
    LogTail,
    Site,
    deployed,
    drop_wavs,
    free_port,
    simulator_options,
    until,
    until_async,
)
from figures import record, sized
from outcomes import delivery_of, journal_problems, watching
from secrets_scan import SecretScanner, issued_secrets, site_places

from e2e.harness import sha256
from hrec_ingest.simulator.state import RequestLogEntry

FILES = sized(20, 200)
OUTAGE_SECONDS = sized(10.0, 120.0)
READY_MAX_API_AGE = sized(3, 15)
POLL_MAX_INTERVAL = sized(4, 30)
SUBMIT_CONCURRENCY = 4
EXPORT_WORKERS = 4  # exporter.WORKERS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(sized(150, 1200))]


@dataclass
class ReadinessLog:
    """What /readyz answered, sampled all through the run."""

    url: str
    samples: list[tuple[float, bool, dict[str, Any]]] = field(default_factory=list)

    async def sample(self, http: aiohttp.ClientSession) -> bool | None:
        try:
            async with http.get(self.url) as response:
                body = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None  # the daemon is starting or stopping
        ready = response.status == 200 and body.get("ready") is True
        self.samples.append((time.monotonic(), ready, body.get("checks", {})))
        return ready

    def between(self, low: float, high: float) -> list[bool]:
        return [ready for at, ready, _ in self.samples if low <= at < high]

    def failing_checks(self) -> set[str]:
        return {
            name
            for _, ready, checks in self.samples
            if not ready
            for name, check in checks.items()
            if not check.get("ok")
        }


async def _sample_until(
    readiness: ReadinessLog, http: aiohttp.ClientSession, deadline: float
) -> None:
    while time.monotonic() < deadline:
        await readiness.sample(http)
        await asyncio.sleep(0.25)


def _attempts(site: Site) -> list[float]:
    """Wall-clock times of every HTTP attempt the daemons logged."""
    times = []
    for daemon in site.daemons:
        for line in LogTail(daemon).read():
            if line.get("event") == "miaop.request" and isinstance(line.get("timestamp"), str):
                times.append(datetime.fromisoformat(line["timestamp"]).timestamp())
    return times


def _arrived(log: list[RequestLogEntry], low: float, high: float) -> int:
    return sum(1 for entry in log if low <= entry.started < high)


async def test_server_down_then_back(tmp_path: Path) -> None:
    port = free_port()
    settings = {
        "METRICS_ADDR": f"127.0.0.1:{port}",
        "READY_MAX_API_AGE_SECONDS": str(READY_MAX_API_AGE),
        "BATCH_MAX_FILES": "5",
        "SUBMIT_CONCURRENCY": str(SUBMIT_CONCURRENCY),
        "POLL_INTERVAL_SECONDS": "1",
        "POLL_MAX_INTERVAL_SECONDS": str(POLL_MAX_INTERVAL),
    }
    # Tasks take a few seconds, so that many are in flight when the server goes.
    options = simulator_options(pending_seconds=0.5, processing_seconds=2.0)
    readiness = ReadinessLog(f"http://127.0.0.1:{port}/readyz")
    async with (
        deployed(tmp_path, options, settings=settings) as site,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http,
    ):
        drops = drop_wavs(site, FILES // 2)
        async with watching(site, drops) as watch:
            daemon = site.start()
            # Down as soon as the server holds a task: the batches are then in flight.
            assert await until(lambda: bool(site.sim.state.tasks), 120), "nothing was sent"
            ready_before = await readiness.sample(http)
            await site.sim.take_down()
            down_mono, down_wall = time.monotonic(), time.time()
            in_flight_at_outage = FILES // 2 - site.archived()
            # The call centre does not stop: half the files arrive during the outage.
            drops.update(drop_wavs(site, FILES - FILES // 2, first=FILES // 2))
            watch.dropped_sha256 = frozenset(sha256(data) for data in drops.values())
            await _sample_until(readiness, http, down_mono + OUTAGE_SECONDS)
            await site.sim.bring_back()
            up_mono, up_wall = time.monotonic(), time.time()

            async def all_archived() -> bool:
                await readiness.sample(http)
                return site.archived() >= FILES

            async def ready() -> bool:
                return await readiness.sample(http) is True

            await until_async(all_archived, 60 + FILES, interval=0.25)
            ready_again = await until_async(ready, 10, interval=0.25)
            exit_status = await site.stop(daemon, timeout=60)
        log = list(site.sim.state.request_log)
        attempts = _attempts(site)
        during = [t for t in attempts if down_wall <= t < up_wall]
        second_half = [t for t in during if t >= down_wall + OUTAGE_SECONDS / 2]
        after = [t for t in attempts if up_wall <= t < up_wall + 10]
        delivery = delivery_of(site, drops)
        problems = journal_problems(site.state)
        scan = SecretScanner(issued_secrets(site)).scan(site_places(site))
    # Independent streams of attempts: the submit workers, the exporter's workers,
    # and each task being polled; a stream backs off to POLL_MAX_INTERVAL.
    streams = SUBMIT_CONCURRENCY + EXPORT_WORKERS + (in_flight_at_outage + 4) // 5
    figures = record(
        "server-down",
        {
            **delivery.figures(),
            "outage_seconds": OUTAGE_SECONDS,
            "files_in_flight_at_outage": in_flight_at_outage,
            "files_dropped_during_outage": FILES - FILES // 2,
            "attempts_during_outage": len(during),
            "attempts_in_second_half_of_outage": len(second_half),
            "attempts_per_second_during_outage": round(len(during) / OUTAGE_SECONDS, 2),
            "attempt_streams": streams,
            "attempts_in_first_10_s_after": len(after),
            "requests_reaching_server_during_outage": _arrived(log, down_mono, up_mono),
            "readiness_samples_during_outage": len(readiness.between(down_mono, up_mono)),
            "ready_during_outage": readiness.between(down_mono, up_mono).count(True),
            "not_ready_during_outage": readiness.between(down_mono, up_mono).count(False),
            "failing_checks_seen": sorted(readiness.failing_checks()),
            "recovery_seconds": round(time.monotonic() - up_mono, 1),
            "journal_problems": len(problems),
            "partial_outputs_seen": len(watch.problems),
            "leaked_secrets": len(scan.leaks),
        },
    )
    assert delivery.problems() == [], figures
    assert problems == [] and watch.problems == [] and scan.leaks == []
    assert exit_status == 0
    assert figures["requests_reaching_server_during_outage"] == 0
    # Backing off: no stream tries more than once every few seconds on average in the
    # second half of the outage, where the back-off has had time to grow.
    assert len(second_half) <= streams * (OUTAGE_SECONDS / 2) / 2, figures
    assert ready_before is True
    assert False in readiness.between(down_mono, up_mono), (
        f"/readyz stayed ready through a {OUTAGE_SECONDS} s outage "
        f"(READY_MAX_API_AGE_SECONDS={READY_MAX_API_AGE}); checks seen: "
        f"{readiness.samples[-1][2] if readiness.samples else 'none'}"
    )
    assert ready_again, "/readyz did not turn ready again after the server came back"
