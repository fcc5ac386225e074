"""Named points where a test can have the daemon killed with SIGKILL.

``HREC_FAILPOINTS=after_intent,mid_export`` makes the process kill itself the
first time it reaches each named point, exactly as ``kill -9`` would at that
line. The crash tests use it to prove that every step is safe to replay; with
the variable unset (production) a failpoint is one set lookup.
"""

from __future__ import annotations

import os
import signal

_ARMED = frozenset(p for p in os.environ.get("HREC_FAILPOINTS", "").split(",") if p)


def failpoint(name: str) -> None:
    """Die here, with no clean-up at all, if this point is armed."""
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
