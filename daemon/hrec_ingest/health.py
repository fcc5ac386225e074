"""The HTTP endpoints for operators: /metrics, /healthz and /readyz (METRICS_ADDR).

An aiohttp app embedded in the daemon's own event loop. /healthz answers as
long as the loop does; /readyz reports the checks of a readiness provider
(journal open, inbox readable, a recent successful API call, output disk
writable), 200 when all pass and 503 otherwise; /metrics is the Prometheus
exposition of one registry.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from types import TracebackType

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from hrec_ingest.logs import redact_text

ReadinessProvider = Callable[[], Mapping[str, tuple[bool, str]]]

log = structlog.get_logger(__name__)


class HealthServerError(RuntimeError):
    """The server could not listen on METRICS_ADDR; the message says why."""


class HealthServer:
    """Serves /metrics, /healthz and /readyz on ``host``:``port`` until ``stop()``.

    ``readiness`` is called on every /readyz request on the event loop, so it
    must be cheap: report state the daemon already keeps, not fresh disk or
    network probes. Port 0 picks a free port; ``start()`` returns it. Usable
    as ``async with HealthServer(...) as server:``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        registry: CollectorRegistry,
        readiness: ReadinessProvider,
    ) -> None:
        self._host = host
        self._port = port
        self._registry = registry
        self._readiness = readiness
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The port bound by ``start()``; ``RuntimeError`` before it."""
        if self._bound_port is None:
            raise RuntimeError("HealthServer is not started")
        return self._bound_port

    async def start(self) -> int:
        """Start listening; return the port actually bound."""
        if self._runner is not None:
            raise RuntimeError("HealthServer is already started")
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        # Scrapes are quick: no reason to hold shutdown for the default minute.
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise HealthServerError(self._bind_error(exc)) from exc
        self._runner = runner
        self._bound_port = site.port
        log.info("health.listening", host=self._host, port=site.port)
        return site.port

    def _bind_error(self, exc: OSError) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host  # IPv6
        where = f"METRICS_ADDR={host}:{self._port}"
        if exc.errno == errno.EADDRINUSE:
            return (
                f"{where}: address already in use (another hrec-ingest?); "
                "choose another port, or set METRICS_ADDR empty to disable"
            )
        return f"{where}: cannot listen: {exc.strerror or exc}"

    async def stop(self) -> None:
        """Stop listening and close open connections; safe to call twice."""
        runner, self._runner = self._runner, None
        self._bound_port = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> HealthServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _metrics(self, request: web.Request) -> web.Response:
        # Honours a scraper's request for OpenMetrics; plain text otherwise.
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return web.Response(body=encoder(self._registry), headers={"Content-Type": content_type})

    async def _healthz(self, _: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def _readyz(self, _: web.Request) -> web.Response:
        try:
            checks = {
                name: {"ok": bool(ok), "detail": redact_text(str(detail))}
                for name, (ok, detail) in self._readiness().items()
            }
        except Exception as exc:  # a broken provider means "not ready", not a 500
            log.warning("health.readiness_failed", exc_info=True)
            detail = redact_text(f"provider failed: {exc!r}")
            checks = {"readiness": {"ok": False, "detail": detail}}
        ready = all(check["ok"] for check in checks.values())
        return web.json_response({"ready": ready, "checks": checks}, status=200 if ready else 503)
