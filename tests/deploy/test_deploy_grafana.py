"""deploy/grafana-dashboard.json asks only for metrics and labels the daemon exposes.

The registry is built as ``hrec-ingest run`` builds it (``Metrics`` plus the
disk-space gauge on the same registry), so a renamed metric or label fails
here instead of leaving a panel silently empty. When the PyPI package
``promql-parser`` is installed, every query is also parsed as PromQL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hrec_ingest.diskspace import DiskSpace
from hrec_ingest.metrics import Metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"

# Series each metric type exposes beside its family name (prometheus_client's naming).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}
# Labels Prometheus adds to every scraped series, and the bucket bound of histograms.
TARGET_LABELS = {"instance", "job"}
METRIC = re.compile(r"\bhrec_[a-z0-9_]+\b")
SELECTOR = re.compile(r"\b(hrec_[a-z0-9_]+)\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
# What the issue asks the dashboard to show, by the series that shows it.
REQUIRED = {
    "hrec_files",
    "hrec_queue_depth",
    "hrec_tasks_in_flight",
    "hrec_http_requests_total",
    "hrec_http_request_seconds_bucket",
    "hrec_token_renewals_total",
    "hrec_oldest_waiting_file_seconds",
    "hrec_uploaded_bytes_total",
}


def daemon_metrics(tmp_path: Path) -> Metrics:
    """The registry ``run`` serves on /metrics, with one sample behind every label set."""
    metrics = Metrics()
    disk = DiskSpace({"OUTPUT_DIR": tmp_path, "ARCHIVE_DIR": tmp_path}, 0, metrics.registry)
    disk.check()
    metrics.set_file_counts({("batched", "demo"): 1, ("archived", "demo"): 2})
    metrics.set_queue_depth("intake", 0)
    metrics.set_tasks_in_flight({"all": 1})
    metrics.set_oldest_waiting(12.0)
    metrics.observer.on_request("task", 200, 0.05)
    metrics.observer.on_token_renewal("demo", "password")
    metrics.observer.on_bytes_uploaded(1000)
    metrics.file_processed("demo", "exported")
    return metrics


def exposed_names(metrics: Metrics) -> set[str]:
    """Every series name the registry can expose, whether or not it has samples yet."""
    names = set()
    for family in metrics.registry.collect():
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


def exposed_labels(metrics: Metrics) -> dict[str, set[str]]:
    """Label names per series name, read back from the text format /metrics serves."""
    labels: dict[str, set[str]] = {}
    text = generate_latest(metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query: panel targets and template variables."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield f"variable {variable['name']}", variable["definition"]


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_every_metric_in_the_dashboard_exists(dashboard: dict[str, Any], tmp_path: Path) -> None:
    known = exposed_names(daemon_metrics(tmp_path))
    for title, expr in queries(dashboard):
        unknown = set(METRIC.findall(expr)) - known
        assert not unknown, f"{title}: {sorted(unknown)} not exposed by the daemon"


def test_every_label_in_the_dashboard_exists(dashboard: dict[str, Any], tmp_path: Path) -> None:
    labels = exposed_labels(daemon_metrics(tmp_path))
    for title, expr in queries(dashboard):
        used = set(METRIC.findall(expr))
        missing = used - labels.keys()
        assert not missing, f"{title}: give {sorted(missing)} a sample in daemon_metrics()"
        for name, matchers in SELECTOR.findall(expr):
            for label in set(MATCHER.findall(matchers)) - TARGET_LABELS:
                assert label in labels[name], f"{title}: {name} has no label {label!r}"
        # Grouping labels must come from some metric of the same query.
        available = set().union(*(labels[name] for name in used)) | TARGET_LABELS
        for group in GROUPING.findall(expr):
            for label in filter(None, (part.strip() for part in group.split(","))):
                assert label in available, f"{title}: grouping by unknown label {label!r}"


def test_the_dashboard_shows_what_the_issue_asks(dashboard: dict[str, Any]) -> None:
    used = set().union(*(set(METRIC.findall(expr)) for _, expr in queries(dashboard)))
    assert REQUIRED <= used, f"not shown: {sorted(REQUIRED - used)}"
    quantile = re.compile(r"histogram_quantile\(([0-9.]+)")
    quantiles = {float(q) for _, expr in queries(dashboard) for q in quantile.findall(expr)}
    assert {0.5, 0.95, 0.99} <= quantiles


def test_the_dashboard_is_importable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] == "hrec-ingest" and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel["targets"]:
            assert 'instance=~"$instance"' in target["expr"], panel["title"]


def test_the_checks_catch_drift(tmp_path: Path) -> None:
    metrics = daemon_metrics(tmp_path)
    assert "hrec_files_processed_total" in exposed_names(metrics)
    assert "hrec_files_processed" not in exposed_names(metrics)  # counters end in _total
    assert "hrec_http_request_seconds_bucket" in exposed_names(metrics)
    labels = exposed_labels(metrics)
    assert labels["hrec_files"] == {"state", "tenant"}
    assert "le" in labels["hrec_http_request_seconds_bucket"]
    assert SELECTOR.findall('sum by (a) (hrec_x{instance=~"$i", state!~"b|c"})') == [
        ("hrec_x", 'instance=~"$i", state!~"b|c"')
    ]
    assert MATCHER.findall('instance=~"$i", state!~"b|c"') == ["instance", "state"]


def test_every_query_is_promql(dashboard: dict[str, Any]) -> None:
    promql_parser = pytest.importorskip("promql_parser")
    for title, expr in queries(dashboard):
        if expr.startswith("label_values("):
            continue  # Grafana's own function, not PromQL
        # Grafana fills in $__rate_interval and the variables before Prometheus sees them.
        try:
            promql_parser.parse(expr.replace("$__rate_interval", "5m"))
        except ValueError as exc:
            pytest.fail(f"{title}: {exc}")
