"""The kill run with STATE_DIR, OUTPUT_DIR, ARCHIVE_DIR and FAILED_DIR on another file system.

Every move out of the inbox is then a copy and a delete (fsops.move_file),
which a kill can cut at any byte: the archive must still only ever show
complete audio, and nothing may be left half-copied.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from figures import record, sized
from kill_campaign import assert_survived, run_kill_campaign
from outcomes import file_system_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(sized(180, 2400))]


async def test_killed_at_random_moments_with_moves_across_file_systems(
    tmp_path: Path, elsewhere: Path
) -> None:
    run = await run_kill_campaign(tmp_path, seed=2027, elsewhere=elsewhere)
    site = run.site
    assert file_system_of(site.archive) != file_system_of(site.inbox)
    assert file_system_of(site.state) != file_system_of(site.inbox)
    record("kill-9-cross-fs", {**run.figures, "other_file_system": str(elsewhere)})
    assert_survived(run)
