"""Fixtures of the end-to-end tests (the harness itself is in harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import PASSWORD, Deployment, demo_settings

from hrec_ingest.simulator import SimulatorOptions, running_simulator


@pytest.fixture
async def deployment(tmp_path: Path) -> AsyncIterator[Deployment]:
    options = SimulatorOptions(
        users={"demo": {"user": PASSWORD}},
        pending_seconds=0.2,
        processing_seconds=0.3,
        seed=7,
    )
    async with running_simulator(options) as sim:
        deployment = Deployment(tmp_path, sim)
        deployment.settings = demo_settings(deployment)
        try:
            yield deployment
        finally:
            for daemon in deployment.daemons:
                if daemon.alive():
                    daemon.kill()
