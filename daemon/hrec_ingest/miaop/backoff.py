"""Exponential back-off with full jitter, as one pure function."""

from __future__ import annotations

import random
from collections.abc import Callable


def full_jitter(
    attempt: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Delay before retry ``attempt`` (1 = first): ``rand() * min(cap, base * 2**(attempt-1))``.

    Full jitter spreads the retries of many clients that failed together over
    the whole window instead of bunching them at its edge (the AWS
    architecture blog's "Exponential Backoff And Jitter"). ``rand`` returns a
    float in [0, 1) and is a parameter so that tests and simulations can fix it.

    Example:
        >>> full_jitter(3, base=0.5, cap=30.0, rand=lambda: 0.5)
        1.0
    """
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must not be negative")
    # 2.0**1023 is the largest power a float holds; past it the product is inf and cap wins.
    return rand() * min(cap, base * 2.0 ** min(attempt - 1, 1023))
