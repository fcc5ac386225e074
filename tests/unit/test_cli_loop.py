"""The daemon's event loop is uvloop's."""

from __future__ import annotations

import asyncio

import uvloop

from hrec_ingest.cli import run_on_fast_loop


def test_the_daemon_runs_on_uvloop() -> None:
    async def on_uvloop() -> int:
        return 0 if isinstance(asyncio.get_running_loop(), uvloop.Loop) else 1

    assert run_on_fast_loop(on_uvloop()) == 0
