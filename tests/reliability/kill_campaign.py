"""A run during which the daemon is killed with SIGKILL again and again, then left to finish.

Each daemon is started, allowed to become ready, left to work for a random
moment (0 to MAX_LIFE seconds) and killed with SIGKILL; the next one starts
on what the last one left. After KILLS kills a last daemon finishes the work
and is stopped with SIGTERM. Outputs are watched all along.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deployments import LogTail, Site, deployed, drop_wavs, simulator_options, until
from figures import sized
from outcomes import Delivery, delivery_of, journal_problems, watching
from secrets_scan import SecretScan, SecretScanner, issued_secrets, site_places

from e2e.harness import DaemonProcess

FILES = sized(40, 500)
KILLS = sized(5, 25)
# Long enough for real work, short enough that most kills come before the end.
MAX_LIFE = sized(1.0, 2.0)
SETTINGS = {"BATCH_MAX_FILES": "5", "SUBMIT_CONCURRENCY": "4"}


@dataclass
class KillRun:
    """What the kill run measured."""

    site: Site
    completed: bool
    exit_status: int | None
    delivery: Delivery
    journal_problems: list[str]
    output_problems: list[str]
    secrets: SecretScan
    figures: dict[str, object] = field(default_factory=dict)


def _ready_or_dead(daemon: DaemonProcess) -> Callable[[], bool]:
    tail = LogTail(daemon)
    return lambda: tail.seen("daemon.ready") or not daemon.alive()


def _adopted(site: Site) -> int:
    """Tasks whose POST a killed daemon may have sent, found on the server after a restart."""
    return sum(
        1
        for daemon in site.daemons
        for line in LogTail(daemon).read()
        if line.get("event") == "task.submitted" and line.get("adopted") is True
    )


async def run_kill_campaign(root: Path, seed: int, elsewhere: Path | None = None) -> KillRun:
    """Drop FILES files, kill KILLS daemons at random moments, let one more finish; measure."""
    rng = random.Random(seed)
    started = time.monotonic()
    lives: list[float] = []
    mid_work = 0
    async with deployed(root, simulator_options(), elsewhere=elsewhere, settings=SETTINGS) as site:
        drops = drop_wavs(site, FILES)
        async with watching(site, drops) as watch:
            for _ in range(KILLS):
                daemon = site.start()
                await until(_ready_or_dead(daemon), 30)
                lives.append(rng.uniform(0.0, MAX_LIFE))
                await asyncio.sleep(lives[-1])  # the random moment of the kill
                mid_work += site.archived() < FILES
                daemon.kill()
            survivor = site.start()
            # Ready first: a SIGTERM before the handlers are installed would just kill it.
            await until(_ready_or_dead(survivor), 30)
            completed = await until(lambda: site.archived() >= FILES, 60 + FILES)
            exit_status = await site.stop(survivor, timeout=60)
        run = KillRun(
            site=site,
            completed=completed,
            exit_status=exit_status,
            delivery=delivery_of(site, drops),
            journal_problems=journal_problems(site.state),
            output_problems=watch.problems,
            secrets=SecretScanner(issued_secrets(site)).scan(site_places(site)),
        )
        run.figures = {
            **run.delivery.figures(),
            "kills": KILLS,
            "kills_while_work_remained": mid_work,
            "killed_after_seconds_of_work": [round(life, 2) for life in lives],
            "tasks_accepted": len(site.sim.state.tasks),
            "posts_found_on_server_after_restart": _adopted(site),
            "completed": completed,
            "seconds": round(time.monotonic() - started, 1),
            "output_samples": watch.samples,
            "output_files_read": watch.files_read,
            "partial_outputs_seen": len(watch.problems),
            "journal_problems": len(run.journal_problems),
            "leaked_secrets": len(run.secrets.leaks),
        }
        return run


def assert_survived(run: KillRun) -> None:
    """Every promise of the kill run kept: delivered once, nothing partial, journal sound."""
    assert run.completed, run.figures
    assert run.delivery.problems() == []
    assert run.output_problems == []
    assert run.journal_problems == []
    assert run.secrets.leaks == []
    assert run.exit_status == 0
