"""One run of the daemon against a server that misbehaves in every way the simulator knows.

10 % of requests answer 5xx, 5 % answer 429 with ``Retry-After: 3``, 3 %
lose their connection, 2 % answer after HTTP_TIMEOUT_SECONDS, every answer
takes 0.1 s, access tokens live 3 s, and every token is revoked once, a
third of the way through. The
run ends when every file is archived (or a deadline passes) and the daemon
has stopped on SIGTERM; the suites then read what it left.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from asyncio.subprocess import PIPE
from dataclasses import dataclass, field
from pathlib import Path

from deployments import LogTail, Site, deployed, drop_wavs, simulator_options, until
from figures import sized
from outcomes import Delivery, OutputWatch, delivery_of, journal_problems, watching
from server_log import RetryAfterReport, retry_after_report

FILES = sized(40, 500)
RETRY_AFTER = 3
HTTP_TIMEOUT = 2.0
SUBMIT_CONCURRENCY = 4
POLL_CONCURRENCY = 4
# open_session: one pool of SUBMIT_CONCURRENCY + POLL_CONCURRENCY + 4 connections
# (exporter workers and token renewals share the 4).
ALLOWED_CONCURRENCY = SUBMIT_CONCURRENCY + POLL_CONCURRENCY + 4
FAULTS = {
    "fault_5xx": 0.10,
    "fault_429": 0.05,
    "retry_after": str(RETRY_AFTER),
    "fault_drop": 0.03,
    "fault_slow": 0.02,
    "slow_seconds": HTTP_TIMEOUT + 1.0,
    "expires_in": 3,
    # Every answer takes a while, so requests overlap and press against the pool's bound.
    "latency_seconds": 0.1,
}
SETTINGS = {
    "SUBMIT_CONCURRENCY": str(SUBMIT_CONCURRENCY),
    "POLL_CONCURRENCY": str(POLL_CONCURRENCY),
    "BATCH_MAX_FILES": "5",
    "HTTP_TIMEOUT_SECONDS": str(HTTP_TIMEOUT),
}
# Stage crashes are bugs met by one task; they must not happen at all.
CRASH_EVENTS = ("task.poll_crashed", "task.submit_crashed", "task.export_crashed")


@dataclass(frozen=True)
class CommandOutput:
    status: int | None
    stdout: bytes
    stderr: bytes


@dataclass
class FaultRun:
    """What the fault run measured, and where it left its files."""

    site: Site
    drops: dict[str, bytes]
    completed: bool
    exit_status: int | None
    seconds: float
    delivery: Delivery
    journal_problems: list[str]
    output_problems: list[str]
    retry_after: RetryAfterReport
    unauthorized: int
    revocations: int
    max_connected: int
    max_in_flight: int
    issued_tokens: list[str]
    requests: int
    faults: dict[str, int]
    faults_after_processing: int
    stage_crashes: int
    output_samples: int
    figures: dict[str, object] = field(default_factory=dict)
    # `status --json` while the daemon ran and after it stopped (None: no such command).
    statuses: list[CommandOutput | None] = field(default_factory=list)


async def run_fault_campaign(root: Path) -> FaultRun:
    """Drop FILES files, run the daemon through the faults, stop it, and measure."""
    options = simulator_options(**FAULTS)
    async with deployed(root, options, settings=SETTINGS) as site:
        drops = drop_wavs(site, FILES)
        started = time.monotonic()
        async with watching(site, drops) as watch:
            daemon = site.start()
            third = await until(lambda: site.archived() >= FILES // 3, 60 + FILES)
            revocations = 0
            if third:
                site.sim.state.revoke_tokens()
                revocations = 1
            statuses = [await status_json(site)]
            completed = third and await until(lambda: site.archived() >= FILES, 60 + FILES * 2)
            exit_status = await site.stop(daemon, timeout=60) if daemon.alive() else None
        statuses.append(await status_json(site))
        seconds = time.monotonic() - started
        run = _measured(site, drops, watch, completed, exit_status, seconds, revocations)
        run.statuses = statuses
        return run


async def status_json(site: Site) -> CommandOutput | None:
    """What ``hrec-ingest status --json`` prints for the site; None if there is no such command."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HREC_")}
    command = [sys.executable, "-m", "hrec_ingest", "status", "--config", str(site.write_config())]
    proc = await asyncio.create_subprocess_exec(
        *command, "--json", stdout=PIPE, stderr=PIPE, env=env, cwd=site.root
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    if proc.returncode == 2 and b"No such command" in stderr:
        return None
    return CommandOutput(proc.returncode, stdout, stderr)


def _measured(
    site: Site,
    drops: dict[str, bytes],
    watch: OutputWatch,
    completed: bool,
    exit_status: int | None,
    seconds: float,
    revocations: int,
) -> FaultRun:
    state = site.sim.state
    log = list(state.request_log)
    events = [line for d in site.daemons for line in LogTail(d).read()]
    run = FaultRun(
        site=site,
        drops=drops,
        completed=completed,
        exit_status=exit_status,
        seconds=seconds,
        delivery=delivery_of(site, drops),
        journal_problems=journal_problems(site.state),
        output_problems=watch.problems,
        retry_after=retry_after_report(log, RETRY_AFTER),
        unauthorized=state.unauthorized_count,
        revocations=revocations,
        max_connected=state.max_concurrent_connected,
        max_in_flight=state.max_concurrent_requests,
        issued_tokens=[*state.issued_access_tokens, *state.issued_refresh_tokens],
        requests=len(log),
        faults=dict(state.faults_injected),
        faults_after_processing=state.faults_after_processing,
        stage_crashes=sum(1 for line in events if line.get("event") in CRASH_EVENTS),
        output_samples=watch.samples,
    )
    run.figures = {
        **run.delivery.figures(),
        "completed": completed,
        "seconds": round(seconds, 1),
        "requests": run.requests,
        "faults_injected": run.faults,
        "faults_after_the_work_was_done": run.faults_after_processing,
        "responses_401": run.unauthorized,
        "token_revocations": revocations,
        "tokens_issued": len(run.issued_tokens),
        "max_concurrent_requests_connected": run.max_connected,
        "max_concurrent_requests_incl_abandoned": run.max_in_flight,
        "allowed_concurrency": ALLOWED_CONCURRENCY,
        **run.retry_after.figures(),
        "output_samples": watch.samples,
        "output_files_read": watch.files_read,
        "partial_outputs_seen": len(watch.problems),
        "journal_problems": len(run.journal_problems),
        "stage_crashes": run.stage_crashes,
    }
    return run
