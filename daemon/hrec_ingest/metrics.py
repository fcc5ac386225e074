"""Prometheus metrics of the daemon, kept in a registry of their own.

A dedicated ``CollectorRegistry`` (not prometheus-client's global one) lets a
test build as many ``Metrics`` as it likes and lets the health server expose
exactly these. The HTTP client reports through ``Metrics.observer``: requests
are labelled by route name (``endpoint``: ``token``, ``hrec``, ``task``,
``tasks``, ``meeting``, ``stt``) and by ``status``, the HTTP status or, when no
answer came, ``timeout``, ``connection`` or ``tls``; the same outcomes feed the
``api`` readiness check (:mod:`hrec_ingest.apihealth`). ``run`` sets the
gauges from the journal's counts and the stages' queues; the manifest writer,
the webhook sender and the archive purge count what they do.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hrec_ingest.apihealth import ApiHealth

# Uploads of large batches take minutes, status requests milliseconds.
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class MetricsHttpObserver:
    """The HTTP client's hook: records requests, token renewals and uploaded bytes.

    ``endpoint`` is a route name (``"token"``, ``"hrec"``, ``"task"``,
    ``"tasks"``, ``"meeting"``, ``"stt"``), never a URL with ids in it, or
    every task would make a new time series. ``status`` is the HTTP status, or
    ``"timeout"``, ``"connection"`` or ``"tls"`` for a request that got no
    answer (see :class:`hrec_ingest.miaop.observer.Observer`).
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        # Each (endpoint, status) pair's children, looked up once: ``labels()`` cost
        # 6 µs a request, two requests per file (docs/benchmarks.md).
        self._children: dict[tuple[str, int | str], tuple[Counter, Histogram]] = {}

    def on_request(self, endpoint: str, status: int | str, seconds: float) -> None:
        children = self._children.get((endpoint, status))
        if children is None:
            children = (
                self._metrics.http_requests.labels(endpoint=endpoint, status=str(status)),
                self._metrics.http_request_seconds.labels(endpoint=endpoint),
            )
            self._children[(endpoint, status)] = children
        requests, latency = children
        requests.inc()
        latency.observe(seconds)
        self._metrics.api_health.record(status)

    def on_token_renewal(self, tenant: str, kind: str) -> None:
        self._metrics.token_renewals.labels(tenant=tenant, kind=kind).inc()

    def on_bytes_uploaded(self, n: int) -> None:
        self._metrics.uploaded_bytes.inc(n)


class Metrics:
    """Every metric of the daemon, registered in ``registry`` (a new one by default).

    Gauges that mirror the journal are set whole with the ``set_*`` methods:
    a label set that was reported before and is missing now drops to zero,
    so a state that emptied does not keep its last count.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        r = self.registry
        self.files = Gauge(
            "hrec_files", "Files in the journal by state.", ["state", "tenant"], registry=r
        )
        self.queue_depth = Gauge(
            "hrec_queue_depth", "Items waiting in a stage's queue.", ["stage"], registry=r
        )
        self.tasks_in_flight = Gauge(
            "hrec_tasks_in_flight", "Tasks submitted and not yet finished.", ["tenant"], registry=r
        )
        self.http_requests = Counter(
            "hrec_http_requests_total",
            "Requests to the server by endpoint and status.",
            ["endpoint", "status"],
            registry=r,
        )
        self.http_request_seconds = Histogram(
            "hrec_http_request_seconds",
            "Latency of requests to the server.",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.token_renewals = Counter(
            "hrec_token_renewals_total",
            "Tokens obtained, by kind (password grant, refresh).",
            ["tenant", "kind"],
            registry=r,
        )
        self.oldest_waiting_file = Gauge(
            "hrec_oldest_waiting_file_seconds",
            "Age of the oldest file not yet exported or failed; 0 when none waits.",
            registry=r,
        )
        self.uploaded_bytes = Counter(
            "hrec_uploaded_bytes_total", "Audio bytes uploaded.", registry=r
        )
        self.files_processed = Counter(
            "hrec_files_processed_total",
            "Files finished, by outcome (exported, failed).",
            ["tenant", "outcome"],
            registry=r,
        )
        self.archive_purged = Counter(
            "hrec_archive_purged_total", "Archived audio files deleted by retention.", registry=r
        )
        self.archive_purged_bytes = Counter(
            "hrec_archive_purged_bytes_total",
            "Bytes of archived audio deleted by retention.",
            registry=r,
        )
        self.outbox_depth = Gauge(
            "hrec_outbox_depth",
            "Events still to be handled, by consumer (manifest, webhook).",
            ["consumer"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "hrec_webhook_deliveries_total",
            "Webhook delivery attempts by outcome.",
            ["outcome"],
            registry=r,
        )
        self.api_health = ApiHealth()  # fed by the observer, read by /readyz
        self.observer = MetricsHttpObserver(self)
        self._file_labels: set[tuple[str, str]] = set()
        self._flight_labels: set[str] = set()

    def set_file_counts(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Set ``hrec_files`` from the journal's counts, keyed by ``(state, tenant)``."""
        for state, tenant in self._file_labels - counts.keys():
            self.files.labels(state=state, tenant=tenant).set(0)
        for (state, tenant), n in counts.items():
            self.files.labels(state=state, tenant=tenant).set(n)
        self._file_labels |= counts.keys()

    def set_tasks_in_flight(self, counts: Mapping[str, int]) -> None:
        """Set ``hrec_tasks_in_flight`` from the journal's counts, keyed by tenant."""
        for tenant in self._flight_labels - counts.keys():
            self.tasks_in_flight.labels(tenant=tenant).set(0)
        for tenant, n in counts.items():
            self.tasks_in_flight.labels(tenant=tenant).set(n)
        self._flight_labels |= counts.keys()

    def set_queue_depth(self, stage: str, depth: int) -> None:
        """Set the number of items waiting in ``stage``'s queue."""
        self.queue_depth.labels(stage=stage).set(depth)

    def set_oldest_waiting(self, seconds: float | None) -> None:
        """Set the age of the oldest waiting file; ``None`` when nothing waits."""
        self.oldest_waiting_file.set(0 if seconds is None else seconds)

    def file_processed(self, tenant: str, outcome: str) -> None:
        """Count one file finished with ``outcome`` (``exported`` or ``failed``)."""
        self.files_processed.labels(tenant=tenant, outcome=outcome).inc()

    def archive_purge(self, n: int = 1, size: int = 0) -> None:
        """Count ``n`` archived files (``size`` bytes in all) deleted by ARCHIVE_RETENTION_DAYS."""
        self.archive_purged.inc(n)
        self.archive_purged_bytes.inc(size)

    def set_outbox_depth(self, depth: Mapping[str, int]) -> None:
        """Set ``hrec_outbox_depth`` from the outbox's counts, keyed by consumer."""
        for consumer, n in depth.items():
            self.outbox_depth.labels(consumer=consumer).set(n)

    def webhook_delivery(self, outcome: str) -> None:
        """Count one webhook delivery attempt by outcome (``delivered``, ``failed``,
        ``refused``) or one event given up (``gave_up``)."""
        self.webhook_deliveries.labels(outcome=outcome).inc()
