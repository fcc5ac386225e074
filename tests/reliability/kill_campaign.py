"""A run during which the daemon is killed with SIGKILL again and again, then left to finish.

Files arrive in waves, one before each start, so that there is always work
in every stage to cut short. Each daemon is started, allowed to become
ready, left to work for a random moment (0 to MAX_LIFE seconds) and killed
with SIGKILL; the next one starts on what the last one left. After KILLS
kills a last daemon finishes the work and is stopped with SIGTERM. Outputs
are watched all along.
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

from e2e.harness import DaemonProcess, visible_files

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
    kills_mid_work: int = 0
    figures: dict[str, object] = field(default_factory=dict)


def arrive(staging: Site, site: Site, names: list[str]) -> None:
    """Files made beforehand appear in the inbox whole (a rename), as a wave of new calls."""
    site.inbox.mkdir(parents=True, exist_ok=True)
    for name in names:
        (staging.inbox / name).rename(site.inbox / name)


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
    # Files still in the inbox at each kill: audio leaves it only once exported.
    unfinished: list[int] = []
    async with deployed(root, simulator_options(), elsewhere=elsewhere, settings=SETTINGS) as site:
        staging = Site(root / "staging", site.sim)
        drops = drop_wavs(staging, FILES)
        waves = [sorted(drops)[i :: KILLS + 1] for i in range(KILLS + 1)]
        async with watching(site, drops) as watch:
            for wave in waves[:-1]:
                arrive(staging, site, wave)
                daemon = site.start()
                await until(_ready_or_dead(daemon), 30)
                lives.append(rng.uniform(0.0, MAX_LIFE))
                await asyncio.sleep(lives[-1])  # the random moment of the kill
                unfinished.append(len(visible_files(site.inbox)))
                daemon.kill()
            arrive(staging, site, waves[-1])
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
            kills_mid_work=sum(1 for n in unfinished if n > 0),
        )
        run.figures = {
            **run.delivery.figures(),
            "kills": KILLS,
            "kills_with_work_unfinished": run.kills_mid_work,
            "files_unfinished_at_each_kill": unfinished,
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
    # The kills cut real work short: files were still on their way at (almost) every one.
    assert run.kills_mid_work >= 0.8 * KILLS, run.figures
