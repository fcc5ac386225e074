"""What ``hrec-ingest status`` reports: gathered from the journal, and its JSON document.

Gathering reads one consistent snapshot of the journal and turns rows into
plain lines with the paths an operator can act on; rendering (JSON here, the
human table in ``status_table``) is pure. Messages that came from the server
or from exceptions pass through the log scrubber before they are shown.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hrec_ingest.journal import (
    IN_FLIGHT_TASK_STATES,
    JOURNAL_NAME,
    FileRow,
    FileState,
    Journal,
)
from hrec_ingest.logs import redact_text
from hrec_ingest.pipeline.layout import FAILED, Folders

REPORT_VERSION = 1
RECENT_FAILURES = 10


@dataclass(frozen=True, slots=True)
class TaskLine:
    """A task the daemon still follows: its server status and when it is asked next."""

    task_id: str
    tenant: str
    state: str
    server_status: str | None
    remaining_seconds: float | None
    next_poll_at: float | None
    created_at: float
    submitted_at: float | None
    files: int
    post_attempts: int
    poll_errors: int


@dataclass(frozen=True, slots=True)
class WaitingLine:
    """The file that has waited longest of those still in the pipeline."""

    tenant: str
    path: str
    state: str
    task_id: str | None
    taken_at: float


@dataclass(frozen=True, slots=True)
class FailureLine:
    """A failed (or failing) file: why, and where its audio and reason are."""

    tenant: str
    path: str
    state: str
    stage: str | None
    error_name: str | None
    error_message: str | None
    error_level: str | None
    task_id: str | None
    meeting_id: str | None
    failed_at: str | None
    failed_path: Path | None
    error_file: Path | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything ``status`` shows; ``journal_found`` False means every list is empty."""

    generated_at: float
    journal_path: Path
    journal_found: bool
    counts: dict[str, dict[str, int]]  # tenant -> state -> files, every state present
    tasks: list[TaskLine]
    oldest_waiting: WaitingLine | None
    failures: list[FailureLine]
    unknown_tenant_folders: list[str]


def gather_report(
    journal: Journal | None,
    folders: Folders,
    tenants: Collection[str],
    state_dir: Path,
    now: float,
) -> StatusReport:
    """Read the journal (None: there is none yet) and the inbox's top level into a report.

    All journal reads happen in one read transaction, so the numbers agree
    with each other even while the daemon commits. Configured ``tenants``
    appear in the counts even before they have any file.
    """
    unknown = unknown_tenant_folders(folders) if folders.inbox.multi_tenant else []
    counts: dict[str, dict[str, int]] = {t: _zero_counts() for t in sorted(tenants)}
    if journal is None:
        return StatusReport(now, state_dir / JOURNAL_NAME, False, counts, [], None, [], unknown)
    with journal.snapshot():
        per_tenant_state = journal.file_counts()
        task_rows = journal.tasks_in_state(*IN_FLIGHT_TASK_STATES)
        files_per_task = journal.file_counts_of_tasks(*IN_FLIGHT_TASK_STATES)
        oldest = journal.oldest_active_file()
        failures = journal.recent_failures(RECENT_FAILURES)
    for (tenant, state), number in per_tenant_state.items():
        counts.setdefault(tenant, _zero_counts())[state] = number
    tasks = [
        TaskLine(
            t.task_id,
            t.tenant,
            str(t.state),
            t.server_status,
            t.remaining_seconds,
            t.next_poll_at,
            t.created_at,
            t.submitted_at,
            files_per_task.get(t.task_id, 0),
            t.post_attempts,
            t.poll_errors,
        )
        for t in task_rows
    ]
    waiting = (
        None
        if oldest is None
        else WaitingLine(
            oldest.tenant, oldest.rel_path, str(oldest.state), oldest.task_id, oldest.taken_at
        )
    )
    return StatusReport(
        now,
        journal.path,
        True,
        dict(sorted(counts.items())),
        tasks,
        waiting,
        [_failure_line(row, folders) for row in failures],
        unknown,
    )


def unknown_tenant_folders(folders: Folders) -> list[str]:
    """Top-level entries of a multi-tenant inbox that no configured tenant owns.

    The same rule as the watcher's scan: anything visible at the top that is
    not a real folder named for a tenant is left untouched by the daemon.
    """
    try:
        entries = list(os.scandir(folders.inbox.files_dir))
    except OSError:
        return []
    unknown = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = stat.S_ISDIR(entry.stat(follow_symlinks=False).st_mode)
        except OSError:
            continue
        if not is_dir or entry.name not in folders.inbox.tenants:
            unknown.append(entry.name)
    return sorted(unknown)


def _zero_counts() -> dict[str, int]:
    return {str(state): 0 for state in FileState}


def _failure_line(row: FileRow, folders: Folders) -> FailureLine:
    doc = row.error or {}
    error = doc.get("error")
    if not isinstance(error, dict):
        error = {}
    failed_path = error_file = None
    if row.dest_kind == FAILED and row.dest_rel is not None:
        failed_path = folders.destination(FAILED, row.tenant, row.dest_rel)
        error_file = folders.error_file(row.tenant, row.dest_rel)
    return FailureLine(
        tenant=row.tenant,
        path=row.rel_path,
        state=str(row.state),
        stage=_text(doc.get("stage")),
        error_name=_text(error.get("name")),
        error_message=_text(error.get("message")),
        error_level=_text(error.get("errorLevel")),
        task_id=_text(doc.get("taskId")) or row.task_id,
        meeting_id=_text(doc.get("meetingId")),
        failed_at=_text(doc.get("failedAt")),
        failed_path=failed_path,
        error_file=error_file,
    )


def _text(value: object) -> str | None:
    # The error document holds the server's words and exceptions' text: shown
    # as plain text whatever its type, and scrubbed of anything secret-looking.
    return None if value is None else redact_text(str(value))


# --- the JSON document ------------------------------------------------------------------------


def iso(timestamp: float | None) -> str | None:
    """An instant as ``2026-11-21T10:00:00Z`` (UTC, whole seconds), or None."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_document(report: StatusReport) -> dict[str, Any]:
    """The stable ``status --json`` document (README "status --json"); every key always present."""
    now = report.generated_at
    totals = _zero_counts()
    for states in report.counts.values():
        for state, number in states.items():
            totals[state] = totals.get(state, 0) + number
    waiting = report.oldest_waiting
    return {
        "version": REPORT_VERSION,
        "generatedAt": iso(now),
        "journal": {"path": str(report.journal_path), "found": report.journal_found},
        "files": {"total": totals, "byTenant": report.counts},
        "tasksInFlight": [_task_doc(t, now) for t in report.tasks],
        "oldestWaiting": None
        if waiting is None
        else {
            "tenant": waiting.tenant,
            "path": waiting.path,
            "state": waiting.state,
            "taskId": waiting.task_id,
            "takenAt": iso(waiting.taken_at),
            "ageSeconds": _seconds(now - waiting.taken_at),
        },
        "recentFailures": [_failure_doc(f) for f in report.failures],
        "unknownTenantFolders": report.unknown_tenant_folders,
    }


def _task_doc(task: TaskLine, now: float) -> dict[str, Any]:
    return {
        "taskId": task.task_id,
        "tenant": task.tenant,
        "state": task.state,
        "serverStatus": task.server_status,
        "sttRemainingTime": task.remaining_seconds,
        "nextPollAt": iso(task.next_poll_at),
        "nextPollInSeconds": None
        if task.next_poll_at is None
        else _seconds(task.next_poll_at - now),
        "createdAt": iso(task.created_at),
        "submittedAt": iso(task.submitted_at),
        "ageSeconds": _seconds(now - task.created_at),
        "files": task.files,
        "postAttempts": task.post_attempts,
        "pollErrors": task.poll_errors,
    }


def _failure_doc(failure: FailureLine) -> dict[str, Any]:
    return {
        "tenant": failure.tenant,
        "path": failure.path,
        "state": failure.state,
        "stage": failure.stage,
        "error": {
            "name": failure.error_name,
            "message": failure.error_message,
            "errorLevel": failure.error_level,
        },
        "taskId": failure.task_id,
        "meetingId": failure.meeting_id,
        "failedAt": failure.failed_at,
        "failedPath": None if failure.failed_path is None else str(failure.failed_path),
        "errorFile": None if failure.error_file is None else str(failure.error_file),
    }


def _seconds(value: float) -> float:
    return round(value, 1)
