"""What a simulator instance does: accounts, timings and injected faults.

The options object is live: the server reads it on every request, so a test
(or ``POST /_sim/faults``) can change faults and timings while it runs. Task
timings are read once, when a task is accepted, so that changing them never
moves a task backwards in its life.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_LANGUAGES = ("Hebrew", "English", "Arabic", "Russian", "Spanish", "French", "German")


def _default_users() -> dict[str, dict[str, str]]:
    return {"demo": {"user": "Psw12345!"}}


@dataclass
class SimulatorOptions:
    """Accounts, task timings and fault injection of one simulator.

    ``users`` maps a tenant (Keycloak realm) to its ``{username: password}``.
    Probabilities are per request. File patterns are ``fnmatch`` patterns on
    the uploaded file names.
    """

    users: dict[str, dict[str, str]] = field(default_factory=_default_users)
    client_id: str = "browser_client"
    expires_in: int = 300
    refresh_expires_in: int = 1800
    pending_seconds: float = 0.5
    processing_seconds: float = 1.0
    processing_per_audio_second: float = 0.0
    latency_seconds: float = 0.0
    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    fault_5xx: float = 0.0
    fault_429: float = 0.0
    retry_after: str = "3"
    fault_drop: float = 0.0
    fault_slow: float = 0.0
    slow_seconds: float = 5.0
    error_files: tuple[str, ...] = ()
    task_error_files: tuple[str, ...] = ()
    reject_files: tuple[str, ...] = ()
    seed: int | None = None


# What POST /_sim/faults may change: faults, timings and file patterns, not
# accounts or the seed (those shape the whole run).
_NUMBER_FIELDS = frozenset(
    {
        "expires_in",
        "refresh_expires_in",
        "pending_seconds",
        "processing_seconds",
        "processing_per_audio_second",
        "latency_seconds",
        "fault_5xx",
        "fault_429",
        "fault_drop",
        "fault_slow",
        "slow_seconds",
    }
)
_PROBABILITY_FIELDS = frozenset({"fault_5xx", "fault_429", "fault_drop", "fault_slow"})
_INT_FIELDS = frozenset({"expires_in", "refresh_expires_in"})
_PATTERN_FIELDS = frozenset({"error_files", "task_error_files", "reject_files"})
LIVE_FIELDS = _NUMBER_FIELDS | _PATTERN_FIELDS | {"retry_after"}


class OptionsError(ValueError):
    """An update names an unknown field or gives a value of the wrong kind."""


def _checked(name: str, value: Any) -> Any:
    if name in _NUMBER_FIELDS:
        # bool is an int subclass; `true` is never a meaningful timing.
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise OptionsError(f"{name} must be a non-negative number")
        if name in _PROBABILITY_FIELDS and value > 1:
            raise OptionsError(f"{name} is a probability: at most 1")
        if name in _INT_FIELDS:
            if value != int(value):
                raise OptionsError(f"{name} must be a whole number of seconds")
            return int(value)
        return float(value)
    if name in _PATTERN_FIELDS:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise OptionsError(f"{name} must be a list of fnmatch patterns")
        return tuple(value)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise OptionsError(f"{name} must be a string")
    return str(value)


def apply_updates(options: SimulatorOptions, updates: dict[str, Any]) -> None:
    """Change the live fields of ``options`` in place, all or nothing.

    Raises :class:`OptionsError` naming the first unknown field or bad value;
    in that case nothing is changed.
    """
    unknown = sorted(set(updates) - LIVE_FIELDS)
    if unknown:
        raise OptionsError(f"cannot change {', '.join(unknown)}; allowed: {sorted(LIVE_FIELDS)}")
    checked = {name: _checked(name, value) for name, value in updates.items()}
    for name, value in checked.items():
        setattr(options, name, value)


def live_values(options: SimulatorOptions) -> dict[str, Any]:
    """The current values of the fields ``apply_updates`` may change, JSON-ready."""
    return {
        f.name: list(v) if isinstance(v := getattr(options, f.name), tuple) else v
        for f in fields(options)
        if f.name in LIVE_FIELDS
    }
