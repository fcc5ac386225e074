"""``hrec-ingest status``: what the journal holds, safe to run beside the working daemon."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path

import click

from hrec_ingest.commands.common import EXIT_FATAL, EXIT_OK, config_option, load_or_exit
from hrec_ingest.commands.status_report import gather_report, report_document
from hrec_ingest.commands.status_table import render_table
from hrec_ingest.config import Settings
from hrec_ingest.journal import Journal, JournalError
from hrec_ingest.logs import register_secret
from hrec_ingest.service import folders_of


@click.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (see README).")
def status_command(config_file: Path | None, as_json: bool) -> None:
    """Show what the journal holds: files per state, tasks in flight, failures.

    Lists files per tenant and state, the tasks the daemon still follows (with
    the server's status and the next poll), the oldest file still waiting, the
    most recent failures with their reasons and FAILED_DIR paths, and inbox
    folders no tenant owns. Reads the journal without ever writing to it, so
    it is safe while the daemon runs; needs no credentials. Exit status: 0;
    1 if the journal cannot be read; 2 for bad configuration.

    Example: hrec-ingest status --config /etc/hrec-ingest/config.env --json
    """
    # Read-only: an operator without write access to the folders may ask.
    settings = load_or_exit(config_file, require_credentials=False, create_folders=False)
    _register_secrets(settings)
    try:
        journal = Journal.open_read_only(settings.state_dir)
    except JournalError as exc:
        click.echo(f"hrec-ingest status: {exc}", err=True)
        sys.exit(EXIT_FATAL)
    try:
        report = gather_report(
            journal,
            folders_of(settings),
            [t.name for t in settings.tenants],
            settings.state_dir,
            time.time(),
        )
    except sqlite3.DatabaseError as exc:
        click.echo(f"hrec-ingest status: cannot read the journal: {exc}", err=True)
        sys.exit(EXIT_FATAL)
    finally:
        if journal is not None:
            journal.close()
    if as_json:
        click.echo(json.dumps(report_document(report), indent=2, ensure_ascii=False))
    else:
        click.echo(render_table(report), nl=False)
    sys.exit(EXIT_OK)


def _register_secrets(settings: Settings) -> None:
    # Error messages shown here came from the server and from exceptions; a
    # configured secret quoted in one must be masked as it is in the logs.
    secrets = [t.password for t in settings.tenants]
    secrets += [s for s in (settings.password, settings.webhook_secret) if s is not None]
    for secret in secrets:
        register_secret(secret.get_secret_value(), pinned=True)
