"""Reading the simulator's request log: was the daemon polite to the server?

A follow-up of a request is the next request for the same resource (the same
path; for ``POST /hrec``, the same taskId) that arrived after the first one
was answered: a retry, or the next poll of the same task.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from hrec_ingest.simulator.state import RequestLogEntry


def resource_of(entry: RequestLogEntry) -> str | None:
    """What a request asked for; None for an upload whose taskId the log does not know."""
    if entry.route == "hrec":
        return f"POST /hrec task {entry.task_id}" if entry.task_id else None
    return f"{entry.method} {entry.path}"


@dataclass
class RetryAfterReport:
    """How the daemon answered each 429."""

    retry_after: float
    answered_429: int = 0
    followed_up: int = 0
    shortest_gap: float | None = None
    too_soon: list[str] = field(default_factory=list)
    unidentified: int = 0
    # Requests for other resources that started inside some 429's window:
    # Retry-After is honoured per request, other work goes on (bounded by concurrency).
    others_inside_windows: int = 0

    def figures(self) -> dict[str, object]:
        return {
            "retry_after_seconds": self.retry_after,
            "answers_429": self.answered_429,
            "followed_up_429": self.followed_up,
            "shortest_follow_up_after_429_seconds": (
                None if self.shortest_gap is None else round(self.shortest_gap, 3)
            ),
            "follow_ups_sooner_than_retry_after": len(self.too_soon),
            "other_requests_inside_retry_after_windows": self.others_inside_windows,
        }


def retry_after_report(log: Sequence[RequestLogEntry], retry_after: float) -> RetryAfterReport:
    """Check that no 429'd request was followed up sooner than ``retry_after`` seconds later."""
    report = RetryAfterReport(retry_after)
    by_resource: dict[str, list[RequestLogEntry]] = defaultdict(list)
    for entry in sorted(log, key=lambda e: e.started):
        resource = resource_of(entry)
        if resource is not None:
            by_resource[resource].append(entry)
    starts = {r: [e.started for e in entries] for r, entries in by_resource.items()}
    all_starts = sorted(e.started for e in log)
    for entry in log:
        if entry.status != 429:
            continue
        report.answered_429 += 1
        resource = resource_of(entry)
        window = (entry.time, entry.time + retry_after)
        inside = bisect.bisect_left(all_starts, window[1]) - bisect.bisect_left(
            all_starts, window[0]
        )
        if resource is None:
            report.unidentified += 1
            report.others_inside_windows += inside
            continue
        same = by_resource[resource]
        index = bisect.bisect_left(starts[resource], entry.time)
        report.others_inside_windows += inside - _count_between(starts[resource], *window)
        if index == len(same):
            continue  # never asked again
        report.followed_up += 1
        gap = same[index].started - entry.time
        if report.shortest_gap is None or gap < report.shortest_gap:
            report.shortest_gap = gap
        if gap < retry_after:
            report.too_soon.append(f"{resource}: asked again {gap:.3f} s after a 429")
    return report


def _count_between(starts: list[float], low: float, high: float) -> int:
    return bisect.bisect_left(starts, high) - bisect.bisect_left(starts, low)


def started_between(log: Iterable[RequestLogEntry], low: float, high: float) -> int:
    """How many requests arrived in [low, high) (monotonic seconds)."""
    return sum(1 for entry in log if low <= entry.started < high)
