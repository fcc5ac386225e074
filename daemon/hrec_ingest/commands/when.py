"""Points in time as a user types them on the command line: ISO dates and times, or ages."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

# Seconds per unit of an age; months and years are left out on purpose: "1m" is a minute.
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_AGE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_AGE_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")

ACCEPTED_FORMS = (
    "an ISO date or date-time (2026-11-20, 2026-11-20T10:00, 2026-11-20T10:00:00+02:00, "
    "2026-11-20T08:00Z; without a zone it is this machine's local time), "
    "an age before now (90s, 30m, 24h, 7d, 2w, 1h30m), or now"
)


class WhenError(ValueError):
    """Text that is neither a date-time nor an age; the message names the flag and the forms."""


def parse_when(
    text: str, *, now: datetime, flag: str = "time", local_zone: tzinfo | None = None
) -> datetime:
    """The timezone-aware point in time ``text`` means, relative to ``now`` for ages.

    ``text`` is an ISO 8601 date or date-time (a date means its midnight; no
    zone means ``local_zone``, by default this machine's local zone), an age
    such as ``30m``, ``24h``, ``7d`` or ``1h30m`` meaning that long before
    ``now``, or ``now``. ``now`` must be timezone-aware. Anything else raises
    WhenError naming ``flag`` and the accepted forms.

    Example:
        >>> from datetime import UTC
        >>> parse_when("90s", now=datetime(2026, 11, 20, 10, 0, tzinfo=UTC)).isoformat()
        '2026-11-20T09:58:30+00:00'
    """
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    cleaned = text.strip()
    if cleaned.lower() == "now":
        return now
    if _AGE.fullmatch(cleaned):
        return _before(now, cleaned, flag, text)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise WhenError(f"{flag}: {text!r} is not a time; use {ACCEPTED_FORMS}") from None
    if moment.utcoffset() is not None:
        return moment
    if local_zone is not None:
        return moment.replace(tzinfo=local_zone)
    try:
        # A naive datetime's astimezone() reads it as the machine's local time (DST included).
        return moment.astimezone()
    except (OverflowError, OSError, ValueError):
        raise WhenError(f"{flag}: {text!r} is out of range") from None


def _before(now: datetime, age: str, flag: str, text: str) -> datetime:
    seconds = sum(float(amount) * UNIT_SECONDS[unit] for amount, unit in _AGE_PART.findall(age))
    try:
        return now - timedelta(seconds=seconds)
    except OverflowError:
        raise WhenError(f"{flag}: {text!r} reaches back before the year 1") from None
