"""``hrec-ingest retry``: failed files back to the inbox, their failure forgotten."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from hrec_ingest.commands.common import EXIT_FATAL, EXIT_OK, config_option, load_or_exit
from hrec_ingest.commands.failed_files import (
    FailedFile,
    NotRetryable,
    every_failed,
    identify,
    location_of,
)
from hrec_ingest.commands.put_back import put_back
from hrec_ingest.journal import JOURNAL_NAME, Journal, JournalError
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.service import folders_of


@dataclass
class Tally:
    """What one run did, for its summary line and exit status."""

    moved: int = 0
    finished: int = 0  # the audio had already left FAILED_DIR: an interrupted retry completed
    not_retryable: int = 0
    broken: int = 0  # a move or write failed

    def summary(self) -> str:
        if not (self.moved or self.finished or self.not_retryable or self.broken):
            return "No failed files to put back."
        parts = [f"{self.moved} file{'' if self.moved == 1 else 's'} put back in the inbox"]
        if self.finished:
            parts.append(f"{self.finished} earlier retry finished")
        if self.not_retryable:
            parts.append(f"{self.not_retryable} not retried (see above)")
        if self.broken:
            parts.append(f"{self.broken} could not be moved (see above; run again to finish)")
        return "; ".join(parts) + "."


@click.command("retry")
@config_option
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--all", "retry_all", is_flag=True, help="Put back every failed file.")
def retry_command(config_file: Path | None, paths: tuple[str, ...], retry_all: bool) -> None:
    """Put failed files back in the inbox and forget their failure.

    Each PATH is a failed audio file in FAILED_DIR or its .error.json. The
    audio returns to where it was in the inbox (or, if that name is taken
    now, beside it as NAME.retry.EXT), its .error.json is removed and the
    journal forgets the failure, so the daemon takes it again as a new file.
    Safe while the daemon runs, and safe to run again after an interruption.
    Exit status: 0 (a PATH that is not a failed file is reported on standard
    error); 1 if a file could not be moved; 2 for bad configuration or usage.

    Example: hrec-ingest retry ./hrec-data/failed/demo/call.wav
    """
    if paths and retry_all:
        raise click.UsageError("give PATHs or --all, not both")
    if not paths and not retry_all:
        raise click.UsageError(
            "name the failed files to put back (PATH: the audio in FAILED_DIR or its "
            ".error.json), or pass --all for every failed file"
        )
    settings = load_or_exit(config_file, require_credentials=False)
    folders = folders_of(settings)
    journal = _open_journal(settings.state_dir)
    try:
        found = every_failed(folders, journal) if retry_all else _named(paths, folders, journal)
        tally = _put_back_all(found, folders, journal)
    finally:
        if journal is not None:
            journal.close()
    click.echo(tally.summary())
    sys.exit(EXIT_FATAL if tally.broken else EXIT_OK)


def _open_journal(state_dir: Path) -> Journal | None:
    # Without a journal there is nothing to forget: .error.json files still
    # say where each file came from, and none is created just for this.
    if not (state_dir / JOURNAL_NAME).exists():
        return None
    try:
        return Journal.open(state_dir)
    except JournalError as exc:
        click.echo(f"hrec-ingest retry: {exc}", err=True)
        sys.exit(EXIT_FATAL)


def _named(
    paths: Iterable[str], folders: Folders, journal: Journal | None
) -> Iterator[FailedFile | NotRetryable]:
    # Every argument is placed before any file moves: the audio and its
    # .error.json name the same failed file, which must be put back once.
    places: list[tuple[str, str, str] | NotRetryable] = []
    seen: set[tuple[str, str]] = set()
    for argument in paths:
        try:
            tenant, dest_rel = location_of(argument, folders.failed_dir)
        except NotRetryable as exc:
            places.append(NotRetryable(exc.reason, argument))
            continue
        if (tenant, dest_rel) not in seen:
            seen.add((tenant, dest_rel))
            places.append((tenant, dest_rel, argument))
    for place in places:
        if isinstance(place, NotRetryable):
            yield place
            continue
        tenant, dest_rel, argument = place
        try:
            yield identify(tenant, dest_rel, folders, journal)
        except NotRetryable as exc:
            yield NotRetryable(exc.reason, argument)


def _put_back_all(
    found: Iterable[FailedFile | NotRetryable], folders: Folders, journal: Journal | None
) -> Tally:
    tally = Tally()
    for item in found:
        if isinstance(item, NotRetryable):
            click.echo(f"hrec-ingest retry: {item.path}: {item.reason}", err=True)
            tally.not_retryable += 1
            continue
        warning = _tenant_warning(item, folders)
        try:
            done = put_back(item, folders, journal)
        except (OSError, sqlite3.DatabaseError) as exc:
            where = folders.failed_dir / item.tenant / item.dest_rel
            click.echo(f"hrec-ingest retry: {where}: could not put it back: {exc}", err=True)
            tally.broken += 1
            continue
        if done.target is None:
            click.echo(f"{done.audio}: already gone from FAILED_DIR; its failure is forgotten")
            tally.finished += 1
        else:
            click.echo(f"{done.audio} -> {done.target}")
            tally.moved += 1
        if warning:
            click.echo(f"hrec-ingest retry: {done.target or done.audio}: {warning}", err=True)
    return tally


def _tenant_warning(item: FailedFile, folders: Folders) -> str | None:
    tenants = folders.inbox.tenants
    if folders.inbox.multi_tenant and item.tenant not in tenants:
        return (
            f"tenant {item.tenant!r} is not in TENANTS_FILE, so the daemon leaves this file "
            "alone until it is added"
        )
    if not folders.inbox.multi_tenant and tenants and item.tenant not in tenants:
        (current,) = tenants
        return f"it failed under tenant {item.tenant!r}; the daemon now sends it as {current!r}"
    return None
