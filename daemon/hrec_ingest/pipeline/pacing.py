"""A request pace: at most ``rate`` requests a second, however much work is waiting.

Concurrency alone does not bound a rate: sixteen requests in flight against a
server that answers in 5 ms is 3,200 requests a second. The poller takes one
token here before every status request, so its rate is set by the settings,
not by how many tasks wait.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class RequestPace:
    """A token bucket kept as one number (GCRA): ``rate`` a second, bursts of ``burst``.

    ``reserve`` takes the next token and says how long to wait before using
    it, so callers queue in the order they asked. ``hold`` stops the bucket for
    a while, e.g. for a 429's ``Retry-After``.

    Example:
        >>> pace = RequestPace(rate=2, burst=1, clock=lambda: 0.0)
        >>> [pace.reserve() for _ in range(3)]
        [0.0, 0.5, 1.0]
    """

    def __init__(
        self, rate: float, burst: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be positive and burst at least 1, got {rate}, {burst}")
        self.rate = rate
        self._clock = clock
        self._spacing = 1.0 / rate
        self._tolerance = (burst - 1) * self._spacing
        self._next = clock()  # when the bucket will be empty, as if tokens were taken evenly

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before the request may leave."""
        now = self._clock()
        at = max(self._next, now)
        self._next = at + self._spacing
        return max(0.0, at - self._tolerance - now)

    def hold(self, seconds: float) -> None:
        """Give out no token that may be used in the next ``seconds``."""
        self._next = max(self._next, self._clock() + seconds + self._tolerance)

    async def acquire(self) -> None:
        """Wait for a token; pacing is the point of this wait, so it is a timed sleep."""
        wait = self.reserve()
        if wait > 0:
            await asyncio.sleep(wait)
