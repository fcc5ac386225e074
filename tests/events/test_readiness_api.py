"""/readyz's ``api`` check: READY_MAX_API_AGE_SECONDS against the client's real outcomes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hrec_ingest.apihealth import ApiHealth, is_failure
from hrec_ingest.config import load_settings
from hrec_ingest.journal import Journal
from hrec_ingest.metrics import Metrics
from hrec_ingest.runner import Readiness
from hrec_ingest.service import Daemon
from samples.config import MINIMAL

pytestmark = pytest.mark.timeout(30)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.mark.parametrize(
    ("status", "failed"),
    [
        (200, False),
        (201, False),
        (400, False),  # a refused file: the API works
        (404, False),  # an unknown task: the API works
        (401, True),
        (403, True),
        (408, True),
        (429, True),
        (500, True),
        (503, True),
        ("timeout", True),
        ("connection", True),
        ("tls", True),
    ],
)
def test_what_counts_as_a_failure(status: int | str, failed: bool) -> None:
    assert is_failure(status) is failed


def test_ready_before_the_first_call(clock: Clock) -> None:
    assert ApiHealth(clock).check(300) == (True, "no API call yet")


def test_ready_while_idle_after_a_success(clock: Clock) -> None:
    health = ApiHealth(clock)
    health.record(200)
    clock.now += 86400  # a quiet day: nothing was due
    ready, detail = health.check(300)
    assert ready and "86400 s ago" in detail


def test_not_ready_once_failing_longer_than_the_limit(clock: Clock) -> None:
    health = ApiHealth(clock)
    health.record(200)
    clock.now += 1000
    health.record("connection")  # the clock starts at the first failure, not the last success
    clock.now += 299
    health.record(503)
    assert health.check(300)[0]
    clock.now += 1
    ready, detail = health.check(300)
    assert not ready
    assert detail == "API calls failing for 300 s (limit 300 s); last success 1300 s ago"
    health.record(200)
    assert health.check(300)[0]


def test_never_succeeded(clock: Clock) -> None:
    health = ApiHealth(clock)
    health.record(401)  # wrong password
    clock.now += 301
    ready, detail = health.check(300)
    assert not ready and detail.endswith("last success never")


@pytest.fixture
def readiness_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Daemon, Metrics]]:
    monkeypatch.chdir(tmp_path)
    environ = MINIMAL | {
        f"HREC_{key}_DIR": str(tmp_path / key.lower())
        for key in ("FILES", "OUTPUT", "ARCHIVE", "FAILED", "STATE")
    }
    environ["HREC_READY_MAX_API_AGE_SECONDS"] = "60"
    settings = load_settings(None, environ)
    journal = Journal.open(settings.state_dir)
    try:
        yield Daemon(settings, journal), Metrics()
    finally:
        journal.close()


def test_readyz_reports_the_api_check_fed_by_the_observer(
    readiness_parts: tuple[Daemon, Metrics], clock: Clock
) -> None:
    daemon, metrics = readiness_parts
    metrics.api_health = ApiHealth(clock)
    readiness = Readiness(daemon, daemon.settings, metrics.api_health)
    assert readiness.checks()["api"] == (True, "no API call yet")
    metrics.observer.on_request("GET /api/tasks/{taskId}", "timeout", 10.0)
    clock.now += 61  # READY_MAX_API_AGE_SECONDS=60
    ok, detail = readiness.checks()["api"]
    assert not ok and "limit 60 s" in detail
    metrics.observer.on_request("GET /api/tasks/{taskId}", 200, 0.1)
    assert readiness.checks()["api"][0]
