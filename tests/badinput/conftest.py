"""Fixtures of the bad-input tests: the e2e harness in front of a simulator that may lie."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from samples.deployments import StartDeployment, deployments


@pytest.fixture
async def deploy(tmp_path: Path) -> AsyncIterator[StartDeployment]:
    """Start deployments (``await deploy(rules)``); their daemons are killed after the test."""
    async with deployments(tmp_path) as start:
        yield start
