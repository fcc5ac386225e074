"""Looking for secrets where they must never be: logs, the journal, outputs, command output.

A secret counts as leaked when it appears whole, or when any 16 characters of
it in a row appear (a token cut short in a log line is still a leak). The
haystack is read as bytes, so the journal's SQLite pages are searched as
they lie on disk, free pages included.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from deployments import Site

from e2e.harness import PASSWORD

WINDOW = 16
# Characters of tokens (base64url) and of the test passwords: runs of them are the candidates.
_RUN = re.compile(rb"[A-Za-z0-9_\-.~+/=!]{%d,}" % WINDOW)


@dataclass
class SecretScan:
    """Every place a secret was found, and how much was searched."""

    secrets: int
    places: int = 0
    bytes_searched: int = 0
    leaks: list[str] = field(default_factory=list)


class SecretScanner:
    """Finds any of ``secrets`` (or 16 characters of one) in bytes."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if s})
        self._windows: dict[bytes, int] = {}
        for index, secret in enumerate(self._secrets):
            raw = secret.encode()
            for start in range(max(1, len(raw) - WINDOW + 1)):
                self._windows.setdefault(raw[start : start + WINDOW], index)

    def found_in(self, data: bytes) -> list[str]:
        """The secrets ``data`` shows, each masked to its first 4 characters."""
        hits: set[int] = set()
        for run in _RUN.finditer(data):
            text = run.group()
            for start in range(len(text) - WINDOW + 1):
                index = self._windows.get(text[start : start + WINDOW])
                if index is not None:
                    hits.add(index)
        # Secrets shorter than the window are looked for whole.
        hits.update(
            i for i, s in enumerate(self._secrets) if len(s) < WINDOW and s.encode() in data
        )
        return [f"{self._secrets[i][:4]}… (secret #{i})" for i in sorted(hits)]

    def scan(self, places: dict[str, bytes]) -> SecretScan:
        """Search each named piece of data; the result names where each leak was."""
        result = SecretScan(secrets=len(self._secrets))
        for where, data in places.items():
            result.places += 1
            result.bytes_searched += len(data)
            result.leaks += [f"{secret} in {where}" for secret in self.found_in(data)]
        return result


def files_under(*folders: Path) -> dict[str, bytes]:
    """Every regular file below ``folders`` (hidden ones too), by path."""
    found: dict[str, bytes] = {}
    for folder in folders:
        if folder.exists():
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    found[str(path)] = path.read_bytes()
    return found


def site_places(site: Site) -> dict[str, bytes]:
    """What a deployment leaves for anyone to read: daemon output, journal, every output folder."""
    logs = {f"daemon output {d.log_path.name}": d.log_path.read_bytes() for d in site.daemons}
    return {**logs, **files_under(site.state, site.out, site.archive, site.failed, site.inbox)}


def issued_secrets(site: Site) -> list[str]:
    """The password and every access and refresh token the simulator issued."""
    state = site.sim.state
    return [PASSWORD, *state.issued_access_tokens, *state.issued_refresh_tokens]
