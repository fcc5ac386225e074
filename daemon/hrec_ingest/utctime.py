"""UTC instants as text, for transcripts, events and manifest file names.

The daemon stamps several texts per file with the same few seconds, so each
second's text is formatted once and kept: ``datetime.strftime`` cost about
3 µs a call, several calls per file on the event loop (docs/benchmarks.md,
twelfth round).
"""

from __future__ import annotations

import math
import time
from functools import lru_cache

_MICROS = 1_000_000


@lru_cache(maxsize=8)
def _second_text(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def _split(epoch: float) -> tuple[int, int]:
    # Rounded to the microsecond as datetime.fromtimestamp does (the fraction
    # alone, half to even), so the texts are the ones it gave: 0.9999996 s
    # reads as the next second, not as 999 ms.
    fraction, whole = math.modf(epoch)
    micros = round(fraction * _MICROS)
    second = int(whole)
    if micros >= _MICROS:
        second, micros = second + 1, micros - _MICROS
    elif micros < 0:
        second, micros = second - 1, micros + _MICROS
    return second, micros


def iso_seconds(epoch: float) -> str:
    """``2026-11-21T10:00:00Z``: ``epoch`` (seconds) in UTC, to the second."""
    return _second_text(_split(epoch)[0]) + "Z"


def iso_millis(epoch: float) -> str:
    """``2026-11-21T10:00:00.123Z``: ``epoch`` (seconds) in UTC, to the millisecond."""
    second, micros = _split(epoch)
    return f"{_second_text(second)}.{micros // 1000:03d}Z"


def utc_date(epoch: float) -> str:
    """``YYYY-MM-DD`` of ``epoch`` (seconds) in UTC."""
    return _second_text(_split(epoch)[0])[:10]


def iso_micros(epoch: float) -> str:
    """``2026-11-21T10:00:00.123456Z``, or without the fraction on a whole second.

    The text ``datetime.isoformat`` gives (structlog's UTC stamp), for log lines.
    """
    second, micros = _split(epoch)
    if micros == 0:
        return _second_text(second) + "Z"
    return f"{_second_text(second)}.{micros:06d}Z"
