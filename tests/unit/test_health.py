"""Health server over a real socket: /healthz, /readyz, /metrics, and bind errors."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import aiohttp
import pytest

from hrec_ingest.health import HealthServer, HealthServerError
from hrec_ingest.metrics import Metrics

pytestmark = pytest.mark.timeout(30)

Checks = dict[str, tuple[bool, str]]
Serve = Callable[..., AbstractAsyncContextManager[str]]


@pytest.fixture
def serve() -> Serve:
    """Factory: a started HealthServer on 127.0.0.1:0, yielding its base URL; stopped after."""

    @asynccontextmanager
    async def make(
        metrics: Metrics | None = None,
        readiness: Callable[[], Mapping[str, tuple[bool, str]]] = dict,
    ) -> AsyncIterator[str]:
        registry = (metrics or Metrics()).registry
        server = HealthServer("127.0.0.1", 0, registry, readiness)
        port = await server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await server.stop()

    return make


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def test_healthz_answers_alive(serve: Serve, client: aiohttp.ClientSession) -> None:
    async with serve() as url, client.get(f"{url}/healthz") as response:
        assert response.status == 200
        assert await response.json() == {"status": "alive"}


async def test_readyz_follows_the_provider(serve: Serve, client: aiohttp.ClientSession) -> None:
    checks: Checks = {
        "journal": (True, "open"),
        "api": (False, "no successful call for 900 s (limit 600 s)"),
    }
    async with serve(readiness=lambda: checks) as url:
        async with client.get(f"{url}/readyz") as response:
            assert response.status == 503
            assert await response.json() == {
                "ready": False,
                "checks": {
                    "journal": {"ok": True, "detail": "open"},
                    "api": {"ok": False, "detail": "no successful call for 900 s (limit 600 s)"},
                },
            }
        checks["api"] = (True, "last call 3 s ago")
        async with client.get(f"{url}/readyz") as response:
            assert response.status == 200
            body = await response.json()
            assert body["ready"] is True
            assert body["checks"]["api"] == {"ok": True, "detail": "last call 3 s ago"}
        checks["disk"] = (False, "output disk not writable")
        async with client.get(f"{url}/readyz") as response:
            assert response.status == 503


async def test_readyz_reports_a_failing_provider_as_not_ready(
    serve: Serve, client: aiohttp.ClientSession
) -> None:
    def broken() -> Checks:
        raise RuntimeError("journal closed")

    async with serve(readiness=broken) as url, client.get(f"{url}/readyz") as response:
        assert response.status == 503
        body = await response.json()
        assert body["ready"] is False
        assert "journal closed" in body["checks"]["readiness"]["detail"]


async def test_metrics_exposes_observations(serve: Serve, client: aiohttp.ClientSession) -> None:
    metrics = Metrics()
    metrics.observer.on_request("POST /hrec", 200, 1.5)
    metrics.observer.on_token_renewal("demo", "password")
    metrics.observer.on_bytes_uploaded(2048)
    metrics.set_file_counts({("submitted", "demo"): 3})
    async with serve(metrics) as url, client.get(f"{url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    assert 'hrec_http_requests_total{endpoint="POST /hrec",status="200"} 1.0' in text
    assert 'hrec_http_request_seconds_count{endpoint="POST /hrec"} 1.0' in text
    assert 'hrec_token_renewals_total{kind="password",tenant="demo"} 1.0' in text
    assert "hrec_uploaded_bytes_total 2048.0" in text
    assert 'hrec_files{state="submitted",tenant="demo"} 3.0' in text
    assert "hrec_oldest_waiting_file_seconds" in text


async def test_metrics_offers_openmetrics_when_asked(
    serve: Serve, client: aiohttp.ClientSession
) -> None:
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
    async with serve() as url, client.get(f"{url}/metrics", headers=headers) as response:
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await response.text()).endswith("# EOF\n")


async def test_a_port_in_use_names_metrics_addr() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = HealthServer("127.0.0.1", port, Metrics().registry, dict)
        with pytest.raises(HealthServerError, match=rf"METRICS_ADDR=127.0.0.1:{port}.*in use"):
            await server.start()
        await server.stop()  # nothing started: harmless


async def test_stop_closes_the_port_and_is_idempotent(client: aiohttp.ClientSession) -> None:
    async with HealthServer("127.0.0.1", 0, Metrics().registry, dict) as server:
        port = server.port
        with pytest.raises(RuntimeError, match="already started"):
            await server.start()
        async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
    await server.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    with pytest.raises(aiohttp.ClientConnectionError):
        async with client.get(f"http://127.0.0.1:{port}/healthz"):
            pass
