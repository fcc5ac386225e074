"""No secret in any output: the password and every token the server issued stay out of sight.

The fault run (conftest.fault_run) uses a known password and tokens that
live 3 s, revoked once: dozens of tokens pass through the daemon, through
retries, 401s and errors. None of them, nor 16 characters of one in a row,
may appear in the daemon's stdout and stderr, its journal (the SQLite files
as they lie on disk), the exported files, or `hrec-ingest status --json`.
"""

from __future__ import annotations

import json

import pytest
from fault_campaign import FaultRun
from figures import record, sized
from secrets_scan import SecretScanner, issued_secrets, site_places

from e2e.harness import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.timeout(sized(240, 3600))]


def test_no_secret_in_daemon_output_journal_or_exported_files(fault_run: FaultRun) -> None:
    secrets = issued_secrets(fault_run.site)
    places = site_places(fault_run.site)
    scan = SecretScanner(secrets).scan(places)
    record(
        "secrets",
        {
            "secrets_looked_for": scan.secrets,
            "access_and_refresh_tokens": len(fault_run.issued_tokens),
            "places_searched": scan.places,
            "bytes_searched": scan.bytes_searched,
            "leaked_secrets": len(scan.leaks),
        },
    )
    assert scan.leaks == []
    # Not vacuous: fresh tokens after the revocation, and the daemon's output and
    # journal were among the places searched.
    assert len(fault_run.issued_tokens) >= 4
    assert any(name.startswith("daemon output") for name in places)
    assert any("journal.sqlite3" in name for name in places)


def test_no_secret_in_status_json(fault_run: FaultRun) -> None:
    if not fault_run.statuses or any(output is None for output in fault_run.statuses):
        pytest.skip("no `hrec-ingest status` command yet (daemon/hrec_ingest/commands/status.py)")
    scanner = SecretScanner(issued_secrets(fault_run.site))
    for output in fault_run.statuses:
        assert output is not None
        assert output.status == 0, output.stderr.decode(errors="replace")
        assert isinstance(json.loads(output.stdout), dict)
        assert scanner.found_in(output.stdout + output.stderr) == []


def test_the_scan_finds_a_secret_whole_cut_short_or_in_a_database() -> None:
    token = "Zq8-xY_3kLmN0pQrStUvWxYz0123456789abcdEFGHij"
    scanner = SecretScanner([token, PASSWORD])
    assert scanner.found_in(f'{{"event": "x", "note": "Bearer {token}"}}'.encode())
    assert scanner.found_in(f"token={token[10:27]}...".encode())
    assert scanner.found_in(b"\x00\x07" + PASSWORD.encode() + b"\x00")
    assert not scanner.found_in(f"token={token[:8]}*** {'a' * 64}".encode())
