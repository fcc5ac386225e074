"""Keeps a stage running: an unexpected exception is logged, then the stage restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from hrec_ingest.miaop.backoff import full_jitter

log = structlog.get_logger(__name__)


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    base_delay: float = 1.0,
    max_delay: float = 60.0,
) -> None:
    """Run ``run()`` until it returns; restart it after a crash, with growing pauses.

    One file or task must never end the daemon silently: the stage comes back
    and the journal tells it where it was.
    """
    crashes = 0
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            crashes += 1
            delay = max(base_delay, full_jitter(crashes, base_delay, max_delay))
            log.exception("stage.crashed", stage=name, crashes=crashes, restart_in=round(delay, 1))
            await asyncio.sleep(delay)
