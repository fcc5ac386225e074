"""Whether calls to the server are succeeding: the ``api`` check of /readyz.

Fed by the HTTP client's observer (``Metrics.observer``) with every finished
request. A request *fails* when no answer came (timeout, connection, TLS) or
the answer says the API is not usable: 5xx, 408, 429, 401 or 403. Any other
answer, 4xx such as a refused file or an unknown task included, shows a
working API and counts as a success.

The verdict (READY_MAX_API_AGE_SECONDS is ``max_age``): not ready once calls
have been failing, with no success in between, for ``max_age`` seconds.
Before the first call, and while idle after a success, it is ready: with no
call due there is nothing to fail, however long ago the last call was. One
failure among successes does not count: the clock starts at the first
failure after the last success.
"""

from __future__ import annotations

import time
from collections.abc import Callable

FAILED_STATUSES = frozenset({401, 403, 408, 429})


def is_failure(status: int | str) -> bool:
    """Whether a request that ended with ``status`` shows the API unusable."""
    if not isinstance(status, int):
        return True  # "timeout", "connection", "tls": no answer at all
    return status >= 500 or status in FAILED_STATUSES


class ApiHealth:
    """Records each request's outcome; :meth:`check` gives the readiness verdict."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last_success: float | None = None  # monotonic
        self.failing_since: float | None = None  # first failure after the last success
        self.calls = 0

    def record(self, status: int | str) -> None:
        """Note a finished request; cheap and never raises (the observer's contract)."""
        now = self._clock()
        self.calls += 1
        if is_failure(status):
            if self.failing_since is None:
                self.failing_since = now
        else:
            self.last_success = now
            self.failing_since = None

    def check(self, max_age: float) -> tuple[bool, str]:
        """``(ready, detail)`` for /readyz; see the module docstring for the rule."""
        now = self._clock()
        if self.calls == 0:
            return True, "no API call yet"
        if self.failing_since is None:
            assert self.last_success is not None
            return True, f"last API call succeeded {now - self.last_success:.0f} s ago"
        failing = now - self.failing_since
        last = "never" if self.last_success is None else f"{now - self.last_success:.0f} s ago"
        detail = (
            f"API calls failing for {failing:.0f} s (limit {max_age:.0f} s); last success {last}"
        )
        return failing < max_age, detail
