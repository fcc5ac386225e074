"""The simulator as an aiohttp application, and two ways to run it.

:func:`running_simulator` embeds it in the caller's event loop (tests,
benchmarks, ``run --simulate``); :func:`serve` runs it until told to stop
(the ``simulator`` command). One port serves both Keycloak and the API, so
``KEYCLOAK_BASE_URL`` and ``API_BASE_URL`` are both the simulator's URL.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from aiohttp import web

from hrec_ingest.simulator import api, control, keycloak, upload
from hrec_ingest.simulator.context import OPTIONS, STATE
from hrec_ingest.simulator.faults import faults_middleware
from hrec_ingest.simulator.options import SimulatorOptions
from hrec_ingest.simulator.state import SimulatorState

log = structlog.get_logger(__name__)

# Requests still running at shutdown (a slow fault, say) get this long to end.
SHUTDOWN_GRACE_SECONDS = 1.0


class _Listener:
    """The listening side of a running simulator, which an outage closes and reopens."""

    def __init__(
        self, runner: web.AppRunner, host: str, port: int, ssl_context: ssl.SSLContext | None
    ) -> None:
        self.runner = runner
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.site: web.TCPSite | None = None

    async def listen(self) -> int:
        self.site = web.TCPSite(self.runner, self.host, self.port, ssl_context=self.ssl_context)
        await self.site.start()
        self.port = self.runner.addresses[0][1]
        return self.port

    async def close(self) -> None:
        if self.site is not None:
            await self.site.stop()
            self.site = None
        server = self.runner.server
        for connection in server.connections if server is not None else []:
            # A crashed server answers nothing more: cut keep-alive and in-flight alike.
            connection.force_close()
            if connection.transport is not None:
                connection.transport.abort()


@dataclass
class RunningSimulator:
    """A simulator serving on a real socket: its URL, live options and state."""

    url: str
    options: SimulatorOptions
    state: SimulatorState
    _listener: _Listener | None = field(default=None, repr=False, compare=False)

    async def take_down(self) -> None:
        """Fail as a crashed server does: the port refuses connections, open ones are cut.

        Tasks, tokens and counters are kept for :meth:`bring_back`. Requests
        refused meanwhile never reach the simulator, so they are not counted.
        """
        if self._listener is None:
            raise RuntimeError("this simulator is not serving on a socket of its own")
        await self._listener.close()
        log.info("simulator.down", url=self.url)

    async def bring_back(self) -> None:
        """Listen again on the same address after :meth:`take_down`, with the same state."""
        if self._listener is None:
            raise RuntimeError("this simulator is not serving on a socket of its own")
        if self._listener.site is None:
            await self._listener.listen()
            log.info("simulator.back", url=self.url)


def build_app(options: SimulatorOptions, state: SimulatorState) -> web.Application:
    """The simulator's routes and middleware, serving ``state`` under ``options``.

    ``options`` becomes ``state.options``: the one live object the handlers read.
    """
    state.options = options
    app = web.Application(middlewares=[faults_middleware])
    app[OPTIONS] = options
    app[STATE] = state
    router = app.router
    router.add_post(
        "/realms/{tenant}/protocol/openid-connect/token", keycloak.token_endpoint, name="token"
    )
    router.add_post("/hrec", upload.submit_task, name="hrec")
    router.add_get("/api/tasks", api.list_tasks, name="tasks")
    router.add_get("/api/tasks/{task_id}", api.get_task, name="task")
    router.add_get("/api/meetings/{meeting_id}", api.get_meeting, name="meeting")
    router.add_get("/api/stt/{meeting_id}/0", api.get_transcription, name="stt")
    router.add_get("/_sim/stats", control.get_stats, name="sim_stats")
    router.add_post("/_sim/faults", control.set_faults, name="sim_faults")
    router.add_post("/_sim/revoke", control.revoke, name="sim_revoke")
    router.add_post("/_sim/archive/{task_id}", control.archive, name="sim_archive")
    return app


def _url(host: str, port: int, tls: bool) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


@asynccontextmanager
async def running_simulator(
    options: SimulatorOptions | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[RunningSimulator]:
    """Serve a simulator on ``host:port`` (0: any free port) for the duration of the block.

    Example::

        async with running_simulator(SimulatorOptions(pending_seconds=0.1)) as sim:
            token_url = f"{sim.url}/realms/demo/protocol/openid-connect/token"
    """
    options = options if options is not None else SimulatorOptions()
    state = SimulatorState(options)
    runner = web.AppRunner(
        build_app(options, state),
        handle_signals=False,
        # Logging every request would cost more than serving it under load.
        access_log=None,
        shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
    )
    await runner.setup()
    try:
        listener = _Listener(runner, host, port, ssl_context)
        bound_port = await listener.listen()
        url = _url(host, bound_port, ssl_context is not None)
        yield RunningSimulator(url, options, state, listener)
    finally:
        await runner.cleanup()


async def serve(
    options: SimulatorOptions,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve a simulator until ``stop`` is set (or, without one, until cancelled).

    Logs one ``simulator.started`` line with the URL to use for both
    ``KEYCLOAK_BASE_URL`` and ``API_BASE_URL``.
    """
    async with running_simulator(options, host=host, port=port, ssl_context=ssl_context) as sim:
        log.info("simulator.started", url=sim.url, tenants=sorted(options.users))
        if stop is None:
            await asyncio.Event().wait()
        else:
            await stop.wait()
    log.info("simulator.stopped")
