"""Fixtures: simulators on 127.0.0.1:0 that stop with the test, and an HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest
from sim_helpers import StartSim

from hrec_ingest.simulator import RunningSimulator, SimulatorOptions, running_simulator

# Short timings keep the suite fast; a test that needs others says so.
FAST = {"pending_seconds": 0.05, "processing_seconds": 0.1, "seed": 7}


@pytest.fixture
async def start_sim() -> AsyncIterator[StartSim]:
    """Start simulators with ``SimulatorOptions(**kwargs)``; all stop after the test."""
    async with AsyncExitStack() as stack:

        async def start(**kwargs: Any) -> RunningSimulator:
            options = SimulatorOptions(**{**FAST, **kwargs})
            return await stack.enter_async_context(running_simulator(options))

        yield start


@pytest.fixture
async def sim(start_sim: StartSim) -> RunningSimulator:
    return await start_sim()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
