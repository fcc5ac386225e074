"""kill -9 at random moments, again and again: every file exported exactly once.

40 files and 5 kills in CI; 500 files and 25 kills with HREC_FULL=1. The
inbox and every other folder share one file system here; test_crash_cross_fs
runs the same with the others on another one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from figures import record, sized
from kill_campaign import assert_survived, run_kill_campaign

pytestmark = [pytest.mark.slow, pytest.mark.timeout(sized(180, 2400))]


async def test_killed_at_random_moments_then_restarted(tmp_path: Path) -> None:
    run = await run_kill_campaign(tmp_path, seed=2026)
    record("kill-9", run.figures)
    assert_survived(run)
