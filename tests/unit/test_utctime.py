"""UTC texts: the same as datetime's, from the cached per-second text."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from hrec_ingest.utctime import iso_micros, iso_millis, iso_seconds, utc_date

AT = 1795252800.25  # 2026-11-21T09:20:00.250Z


def test_times_are_utc() -> None:
    assert iso_millis(AT) == "2026-11-21T09:20:00.250Z"
    assert iso_seconds(AT) == "2026-11-21T09:20:00Z"
    assert utc_date(AT) == "2026-11-21"
    assert utc_date(1795305599.9) == "2026-11-21"  # 23:59:59.9 UTC
    assert utc_date(1795305600.0) == "2026-11-22"


def _by_datetime(epoch: float) -> tuple[str, str, str]:
    moment = datetime.fromtimestamp(epoch, UTC)
    return (
        moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        moment.strftime("%Y-%m-%d"),
    )


@pytest.mark.parametrize(
    "epoch",
    [0.0, -5.5, 0.9999996, 0.9999994, 1795305599.9999996, 1795312070.0409994, 1795305600.0],
)
def test_edges_round_as_datetime_does(epoch: float) -> None:
    """A fraction that rounds up to a whole second reads as that second, as with datetime."""
    assert (iso_millis(epoch), iso_seconds(epoch), utc_date(epoch)) == _by_datetime(epoch)


def test_agrees_with_datetime_on_many_instants() -> None:
    draw = random.Random(20261122)
    for _ in range(20_000):
        epoch = draw.uniform(-1e9, 4e9) if draw.random() < 0.5 else AT + draw.random() * 5
        assert (iso_millis(epoch), iso_seconds(epoch), utc_date(epoch)) == _by_datetime(epoch)


def test_log_stamps_read_as_isoformat() -> None:
    draw = random.Random(7)
    for epoch in [AT, 1795252800.0, 0.9999996, *(AT + draw.random() for _ in range(5_000))]:
        expected = datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")
        assert iso_micros(epoch) == expected
