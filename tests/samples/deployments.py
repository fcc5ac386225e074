"""Deployments for the bad-input and security tests: the e2e harness in front of a lying simulator.

Example::

    async with deployments(tmp_path) as start:
        d, liar = await start(rules={"stt": ...})
        daemon = d.start()
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Protocol

from e2e.harness import PASSWORD, Deployment, demo_settings
from hrec_ingest.simulator import SimulatorOptions
from samples.lying_server import LyingSimulator, Rule, lying_simulator


class StartDeployment(Protocol):
    def __call__(
        self, rules: dict[str, Rule] | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> Awaitable[tuple[Deployment, LyingSimulator]]: ...


def fast_options() -> SimulatorOptions:
    """The simulator of the e2e tests: one tenant ``demo``, tasks done in half a second."""
    return SimulatorOptions(
        users={"demo": {"user": PASSWORD}}, pending_seconds=0.2, processing_seconds=0.3, seed=7
    )


@asynccontextmanager
async def deployments(root: Path) -> AsyncIterator[StartDeployment]:
    """Start deployments below ``root``, each with its own simulator; all stop at the end."""
    started: list[Deployment] = []
    async with AsyncExitStack() as stack:

        async def start(
            rules: dict[str, Rule] | None = None, ssl_context: ssl.SSLContext | None = None
        ) -> tuple[Deployment, LyingSimulator]:
            liar = await stack.enter_async_context(
                lying_simulator(fast_options(), rules, ssl_context)
            )
            d = Deployment(root / f"d{len(started)}", liar.sim)
            d.root.mkdir(parents=True)
            d.settings = demo_settings(d)
            started.append(d)
            return d, liar

        try:
            yield start
        finally:
            for d in started:
                for daemon in d.daemons:
                    if daemon.alive():
                        daemon.kill()
