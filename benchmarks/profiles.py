"""The server profiles a benchmark runs against, and the daemon settings used with each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

# Settings of every benchmark run. BATCH_MAX_WAIT_SECONDS is short so that the
# last, partial batch does not add the production default of 30 s to the run.
COMMON_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        "STABLE_SECONDS": "0.5",
        "BATCH_MAX_FILES": "20",
        "BATCH_MAX_WAIT_SECONDS": "1",
        "BATCH_MAX_BYTES": "4GB",
        "SUBMIT_CONCURRENCY": "4",
        "POLL_CONCURRENCY": "16",
        "METRICS_ADDR": "",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "info",
        "HTTP_TIMEOUT_SECONDS": "60",
    }
)


@dataclass(frozen=True)
class Profile:
    """One server behaviour: simulator flags, plus the poll timing both clients use."""

    name: str
    description: str
    simulator_flags: tuple[str, ...]
    poll_settings: Mapping[str, str] = field(default_factory=dict)

    def daemon_settings(self) -> dict[str, str]:
        """Every benchmark-specific setting of the daemon under this profile."""
        return {**COMMON_SETTINGS, **self.poll_settings}

    @property
    def poll_interval(self) -> float:
        """POLL_INTERVAL_SECONDS: the baseline client polls at this steady interval too."""
        return float(self.poll_settings["POLL_INTERVAL_SECONDS"])


PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        "zero": Profile(
            "zero",
            "processing time 0, no added latency: the daemon's own overhead",
            (
                "--pending-seconds",
                "0",
                "--processing-seconds",
                "0",
                "--processing-per-audio-second",
                "0",
                "--latency",
                "0",
            ),
            {
                "POLL_INITIAL_DELAY_SECONDS": "0.2",
                "POLL_INTERVAL_SECONDS": "0.5",
                "POLL_MAX_INTERVAL_SECONDS": "5",
            },
        ),
        "realistic": Profile(
            "realistic",
            "50 ms added to every answer; 0.5 s pending, then 0.05 s of processing "
            "per second of audio",
            (
                "--pending-seconds",
                "0.5",
                "--processing-seconds",
                "0",
                "--processing-per-audio-second",
                "0.05",
                "--latency",
                "0.05",
            ),
            {
                "POLL_INITIAL_DELAY_SECONDS": "1",
                "POLL_INTERVAL_SECONDS": "2",
                "POLL_MAX_INTERVAL_SECONDS": "30",
            },
        ),
    }
)
