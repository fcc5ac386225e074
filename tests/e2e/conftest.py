"""Fixtures of the end-to-end tests (the harness itself is in harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import FAST_SETTINGS, PASSWORD, Deployment

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
        deployment.settings = {
            "KEYCLOAK_BASE_URL": sim.url,
            "API_BASE_URL": sim.url,
            "TENANT": "demo",
            "USERNAME": "user",
            "PASSWORD": PASSWORD,
            "SUPERVISOR_EMAIL": "supervisor@example.com",
            "BASE_LANGUAGE": "English",
            "FILES_DIR": str(deployment.inbox),
            "OUTPUT_DIR": str(deployment.out),
            "ARCHIVE_DIR": str(deployment.archive),
            "FAILED_DIR": str(deployment.failed),
            "STATE_DIR": str(deployment.state),
            **FAST_SETTINGS,
        }
        try:
            yield deployment
        finally:
            for daemon in deployment.daemons:
                if daemon.alive():
                    daemon.kill()
