"""Everything a simulator holds, in one object that tests can inspect.

Times of tasks and tokens come from ``clock`` (monotonic seconds; a test may
swap in its own to travel in time). The request log uses the real
``time.monotonic`` so that gaps between requests measure real behaviour.
"""

from __future__ import annotations

import itertools
import random
import string
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, NamedTuple

from hrec_ingest.miaop.models import TaskStatus
from hrec_ingest.simulator.options import SimulatorOptions
from hrec_ingest.simulator.tasks import TaskRecord
from hrec_ingest.simulator.tokens import TokenStore

REQUEST_LOG_SIZE = 200_000
# Status recorded for a request whose connection was dropped unanswered.
DROPPED = 0
_TASK_ID_ALPHABET = string.ascii_lowercase + string.digits


def _always() -> bool:
    return True


class RequestLogEntry(NamedTuple):
    """One answered (or dropped) request; times are ``time.monotonic`` seconds.

    ``time`` is when the answer was ready, ``started`` when the request
    arrived. ``path`` names the resource and, for ``POST /hrec``, ``task_id``
    is the taskId the request named, so that a test can pair a retry with the
    attempt it repeats.
    """

    time: float
    method: str
    route: str
    status: int
    tenant: str | None
    started: float = 0.0
    path: str = ""
    task_id: str | None = None


class SimulatorState:
    """Tasks, tokens and counters of one simulator.

    ``requests`` counts answers by ``(route name, status)``; a dropped
    connection counts with status ``0``, an upload the client abandoned
    with ``499``. Route names: ``token``, ``hrec``,
    ``task``, ``tasks``, ``meeting``, ``stt`` and ``unmatched``.
    """

    def __init__(
        self,
        options: SimulatorOptions | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        request_log_size: int = REQUEST_LOG_SIZE,
    ) -> None:
        self.options = options if options is not None else SimulatorOptions()
        self.clock = clock
        self._epoch_offset = time.time() - clock()
        # The lambda reads self.clock on every call so that swapping it works.
        self.tokens = TokenStore(lambda: self.clock())
        self.tasks: dict[str, TaskRecord] = {}
        # sha256 -> number of accepted tasks holding a file with that content.
        self.uploads_by_sha256: Counter[str] = Counter()
        self.requests: Counter[tuple[str, int]] = Counter()
        self.faults_injected: Counter[str] = Counter()
        # Faults that hit after the request had been carried out (answer lost).
        self.faults_after_processing = 0
        self.request_log: deque[RequestLogEntry] = deque(maxlen=request_log_size)
        self.in_flight = 0
        self.max_concurrent_requests = 0
        # Requests whose client still waits for the answer: one that gave up
        # (a timeout) is still being handled, but no longer holds a connection
        # of the client's pool, so it does not count against the client's bound.
        self.max_concurrent_connected = 0
        self._connected_checks: dict[int, Callable[[], bool]] = {}
        self._tickets = itertools.count()
        seed = self.options.seed
        # Separate streams, so that how many ids were drawn never shifts the faults.
        self.fault_random = random.Random(seed)
        self._id_random = random.Random(None if seed is None else seed + 1)

    def now(self) -> float:
        """The current time on the simulator's clock."""
        return self.clock()

    def epoch(self, now: float | None = None) -> float:
        """Wall-clock seconds of ``now`` (default: the current time)."""
        return (self.clock() if now is None else now) + self._epoch_offset

    @property
    def issued_access_tokens(self) -> list[str]:
        """Every access token ever issued, in order."""
        return self.tokens.issued_access_tokens

    @property
    def issued_refresh_tokens(self) -> list[str]:
        """Every refresh token ever issued, in order."""
        return self.tokens.issued_refresh_tokens

    @property
    def unauthorized_count(self) -> int:
        """How many answers were 401."""
        return sum(n for (_, status), n in self.requests.items() if status == 401)

    def count(self, route: str, status: int | None = None) -> int:
        """How many answers ``route`` gave (with ``status`` only, if given)."""
        return sum(n for (r, s), n in self.requests.items() if r == route and status in (None, s))

    def task_status(self, task_id: str) -> TaskStatus:
        """The current ``taskStatus`` of a known task (KeyError if unknown)."""
        return self.tasks[task_id].status(self.clock())

    def tasks_with_sha256(self, sha256: str) -> int:
        """In how many accepted tasks a file with this content appears."""
        return self.uploads_by_sha256[sha256]

    def new_task_id(self) -> str:
        """A fresh 16-character ``[a-z0-9]`` taskId, like the server's."""
        while True:
            candidate = "".join(self._id_random.choices(_TASK_ID_ALPHABET, k=16))
            if candidate not in self.tasks:
                return candidate

    def add_task(self, task: TaskRecord) -> None:
        """Register an accepted task."""
        self.tasks[task.task_id] = task
        for sha256 in {f.sha256 for f in task.files}:
            self.uploads_by_sha256[sha256] += 1

    def archive_task(self, task_id: str) -> bool:
        """Mark a task archived (as the server's UI would); False if unknown."""
        task = self.tasks.get(task_id)
        if task is None:
            return False
        if not task.archived:
            task.archived = True
            task.archived_epoch = self.epoch()
        return True

    def revoke_tokens(self, tenant: str | None = None) -> int:
        """Invalidate every access and refresh token (of ``tenant`` only, if given)."""
        return self.tokens.revoke(tenant)

    def request_started(self, client_connected: Callable[[], bool] | None = None) -> int:
        """Count a request as being handled; returns the ticket to pass to ``request_finished``.

        ``client_connected`` tells whether the client still holds the
        request's connection; it feeds ``max_concurrent_connected``.
        """
        self.in_flight += 1
        if self.in_flight > self.max_concurrent_requests:
            self.max_concurrent_requests = self.in_flight
        ticket = next(self._tickets)
        self._connected_checks[ticket] = client_connected or _always
        connected = sum(1 for check in self._connected_checks.values() if check())
        if connected > self.max_concurrent_connected:
            self.max_concurrent_connected = connected
        return ticket

    def request_finished(
        self,
        method: str,
        route: str,
        status: int,
        tenant: str | None,
        *,
        ticket: int | None = None,
        started: float | None = None,
        path: str = "",
        task_id: str | None = None,
    ) -> None:
        """Count a request as answered (or dropped, with status 0) and log it."""
        self.in_flight -= 1
        if ticket is not None:
            self._connected_checks.pop(ticket, None)
        now = time.monotonic()
        self.requests[route, status] += 1
        self.request_log.append(
            RequestLogEntry(
                now,
                method,
                route,
                status,
                tenant,
                now if started is None else started,
                path,
                task_id,
            )
        )

    def stats(self) -> dict[str, Any]:
        """The counters as JSON-ready data (``GET /_sim/stats``)."""
        now = self.clock()
        by_route: dict[str, dict[str, int]] = {}
        for (route, status), n in sorted(self.requests.items()):
            by_route.setdefault(route, {})[str(status)] = n
        by_status = Counter(task.status(now).value for task in self.tasks.values())
        return {
            "requests": by_route,
            "responses_401": self.unauthorized_count,
            "faults_injected": dict(self.faults_injected),
            "faults_after_processing": self.faults_after_processing,
            "in_flight": self.in_flight,
            "max_concurrent_requests": self.max_concurrent_requests,
            "max_concurrent_connected": self.max_concurrent_connected,
            "tasks": {
                "total": len(self.tasks),
                "archived": sum(1 for task in self.tasks.values() if task.archived),
                "by_status": dict(by_status),
            },
            "tokens_issued": {
                "access": len(self.issued_access_tokens),
                "refresh": len(self.issued_refresh_tokens),
            },
        }
