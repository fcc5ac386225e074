"""Metrics: a registry per instance, the HTTP observer, journal-fed gauges."""

from __future__ import annotations

from typing import Protocol

import prometheus_client
import pytest
from prometheus_client import generate_latest

from hrec_ingest.metrics import Metrics

pytestmark = pytest.mark.timeout(30)

NAMES = (
    "hrec_files",
    "hrec_queue_depth",
    "hrec_tasks_in_flight",
    "hrec_http_requests_total",
    "hrec_http_request_seconds",
    "hrec_token_renewals_total",
    "hrec_oldest_waiting_file_seconds",
    "hrec_uploaded_bytes_total",
    "hrec_files_processed_total",
    "hrec_archive_purged_total",
    "hrec_webhook_deliveries_total",
)


class HttpHooks(Protocol):
    """What the HTTP client calls; Metrics.observer must satisfy it."""

    def on_request(self, endpoint: str, status: int | str, seconds: float) -> None: ...
    def on_token_renewal(self, tenant: str, kind: str) -> None: ...
    def on_bytes_uploaded(self, n: int) -> None: ...


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_each_instance_has_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.observer.on_bytes_uploaded(100)
    assert value(first, "hrec_uploaded_bytes_total") == 100
    assert value(second, "hrec_uploaded_bytes_total") == 0
    assert prometheus_client.REGISTRY.get_sample_value("hrec_uploaded_bytes_total") is None


def test_observer_records_requests_renewals_and_bytes() -> None:
    metrics = Metrics()
    hooks: HttpHooks = metrics.observer
    hooks.on_request("GET /api/tasks/{taskId}", 200, 0.03)
    hooks.on_request("GET /api/tasks/{taskId}", 200, 0.07)
    hooks.on_request("POST /hrec", "timeout", 61.0)
    hooks.on_token_renewal("demo", "refresh")
    hooks.on_bytes_uploaded(1000)
    hooks.on_bytes_uploaded(24)

    task = {"endpoint": "GET /api/tasks/{taskId}"}
    assert value(metrics, "hrec_http_requests_total", **task, status="200") == 2
    assert value(metrics, "hrec_http_requests_total", endpoint="POST /hrec", status="timeout") == 1
    assert value(metrics, "hrec_http_request_seconds_count", **task) == 2
    assert value(metrics, "hrec_http_request_seconds_sum", **task) == pytest.approx(0.1)
    assert value(metrics, "hrec_http_request_seconds_bucket", **task, le="0.05") == 1
    assert value(metrics, "hrec_http_request_seconds_bucket", endpoint="POST /hrec", le="60.0") == 0
    assert value(metrics, "hrec_token_renewals_total", tenant="demo", kind="refresh") == 1
    assert value(metrics, "hrec_uploaded_bytes_total") == 1024


def test_file_counts_drop_to_zero_when_a_state_empties() -> None:
    metrics = Metrics()
    metrics.set_file_counts({("batched", "demo"): 3, ("submitted", "demo"): 2})
    metrics.set_file_counts({("submitted", "demo"): 5, ("exported", "acme"): 1})
    assert value(metrics, "hrec_files", state="batched", tenant="demo") == 0
    assert value(metrics, "hrec_files", state="submitted", tenant="demo") == 5
    assert value(metrics, "hrec_files", state="exported", tenant="acme") == 1


def test_tasks_in_flight_drop_to_zero_for_a_quiet_tenant() -> None:
    metrics = Metrics()
    metrics.set_tasks_in_flight({"demo": 4, "acme": 1})
    metrics.set_tasks_in_flight({"demo": 2})
    assert value(metrics, "hrec_tasks_in_flight", tenant="demo") == 2
    assert value(metrics, "hrec_tasks_in_flight", tenant="acme") == 0


def test_simple_gauges_and_counters() -> None:
    metrics = Metrics()
    metrics.set_queue_depth("submit", 7)
    metrics.set_oldest_waiting(42.5)
    assert value(metrics, "hrec_oldest_waiting_file_seconds") == 42.5
    metrics.set_oldest_waiting(None)
    metrics.file_processed("demo", "exported")
    metrics.file_processed("demo", "failed")
    metrics.file_processed("demo", "exported")
    metrics.archive_purge(3)
    metrics.archive_purge()
    metrics.webhook_delivery("ok")

    assert value(metrics, "hrec_queue_depth", stage="submit") == 7
    assert value(metrics, "hrec_oldest_waiting_file_seconds") == 0
    assert value(metrics, "hrec_files_processed_total", tenant="demo", outcome="exported") == 2
    assert value(metrics, "hrec_files_processed_total", tenant="demo", outcome="failed") == 1
    assert value(metrics, "hrec_archive_purged_total") == 4
    assert value(metrics, "hrec_webhook_deliveries_total", outcome="ok") == 1


def test_exposition_names_every_metric() -> None:
    text = generate_latest(Metrics().registry).decode()
    for name in NAMES:
        assert f"# TYPE {name} " in text
