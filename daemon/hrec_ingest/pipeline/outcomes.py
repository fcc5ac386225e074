"""The two ends of a file's life: archived beside its transcripts, or failed with its reason.

Each follows the same order, so a crash at any line is replayed safely:
reserve the names in the journal, write what belongs beside the audio, move
the audio, then mark the row final and let the watcher have the path again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from hrec_ingest import diskwork
from hrec_ingest.formats import render_json
from hrec_ingest.fsops import atomic_write, move_file
from hrec_ingest.journal import FileRow, FileState, Journal, NewFile, TaskRow
from hrec_ingest.miaop.models import Meeting
from hrec_ingest.pipeline.claims import Claims
from hrec_ingest.pipeline.layout import ARCHIVE, FAILED, Folders, choose_failed_name
from hrec_ingest.utctime import iso_seconds

log = structlog.get_logger(__name__)


def utc_now() -> str:
    return iso_seconds(time.time())


def task_doc(task: TaskRow) -> dict[str, Any]:
    """The ``task`` block of the transcript JSON for a journalled task."""
    return {
        "taskId": task.task_id,
        "taskName": task.task_name,
        "baseLanguage": task.language,
        "submittedAt": None if task.submitted_at is None else iso_seconds(task.submitted_at),
    }


def transcript_doc(
    source: Mapping[str, Any],
    task: Mapping[str, Any],
    meeting_id: str,
    meeting: Meeting,
    raw_paragraphs: Sequence[Any],
) -> dict[str, Any]:
    """The ``<stem>.json`` document of interface.md section 5 (daemon, ``submit`` and ``fetch``)."""
    return {
        "source": dict(source),
        "task": dict(task),
        "meeting": {
            "meetingId": meeting_id,
            "status": meeting.metadata.status,
            "metadata": meeting.metadata.model_dump(mode="json", exclude_unset=True),
        },
        "transcription": list(raw_paragraphs),
        "exportedAt": utc_now(),
    }


def source_doc(row: FileRow | NewFile) -> dict[str, Any]:
    """The ``source`` block of the transcript JSON and of ``.error.json``."""
    doc: dict[str, Any] = {
        "tenant": row.tenant,
        "path": row.rel_path,
        "name": row.rel_path.rsplit("/", 1)[-1],
        "size": row.size,
        "sha256": row.sha256,
    }
    if row.audio:
        doc.update(row.audio)
    return doc


def error_doc(
    row: FileRow | NewFile,
    *,
    stage: str,
    name: str,
    message: str,
    error_level: str = "critical",
    task_id: str | None = None,
    meeting_id: str | None = None,
    attempts: int = 1,
) -> dict[str, Any]:
    """The content of ``<name>.error.json`` (interface.md section 4)."""
    return {
        "source": source_doc(row),
        "stage": stage,
        "error": {"name": name, "message": message, "errorLevel": error_level},
        "taskId": task_id,
        "meetingId": meeting_id,
        "attempts": attempts,
        "failedAt": utc_now(),
    }


class Outcomes:
    """Moves files out of the inbox, always after the journal says it is due."""

    def __init__(self, journal: Journal, folders: Folders, claims: Claims) -> None:
        self.journal = journal
        self.folders = folders
        self.claims = claims

    async def fail(self, row: FileRow, doc: dict[str, Any]) -> None:
        """Send a journalled file to FAILED_DIR with ``doc`` as its ``.error.json``."""
        if row.state is not FileState.FAILING or row.dest_rel is None:
            tag = doc.get("taskId") or row.sha256[:12]
            dest_rel = choose_failed_name(
                self.folders,
                row.tenant,
                row.rel_path,
                tag,
                lambda dest: self.journal.name_reserved(row.tenant, dest=(FAILED, dest)),
            )
            self.journal.reserve_names(
                row.id,
                FileState.FAILING,
                out_stem=None,
                dest_kind=FAILED,
                dest_rel=dest_rel,
                error=doc,
            )
            row = self.journal.require_file(row.id)
        await self._finish_failing(row)

    async def fail_new(self, new: NewFile, doc: dict[str, Any]) -> None:
        """Send a file that never joined a task (stage validate) to FAILED_DIR."""
        dest_rel = choose_failed_name(
            self.folders,
            new.tenant,
            new.rel_path,
            new.sha256[:12] or "unhashed",
            lambda dest: self.journal.name_reserved(new.tenant, dest=(FAILED, dest)),
        )
        row = self.journal.insert_failing(new, dest_rel=dest_rel, error=doc)
        await self._finish_failing(row)

    async def _finish_failing(self, row: FileRow) -> None:
        assert row.dest_rel is not None and row.error is not None
        error_path = self.folders.error_file(row.tenant, row.dest_rel)
        source = self.folders.source(row.tenant, row.rel_path)
        target = self.folders.destination(FAILED, row.tenant, row.dest_rel)
        await diskwork.in_thread(atomic_write, error_path, render_json(row.error))
        await diskwork.in_thread(move_file, source, target)
        self.journal.set_file_state(row.id, FileState.FAILED)
        self.claims.release((row.tenant, row.rel_path))
        error = row.error.get("error", {})
        log.warning(
            "file.failed",
            tenant=row.tenant,
            file=row.rel_path,
            task_id=row.error.get("taskId"),
            stage=row.error.get("stage"),
            error=error.get("name"),
            reason=error.get("message"),
        )

    async def archive(self, row: FileRow) -> None:
        """Move the audio of an exported file to ARCHIVE_DIR and close its row."""
        assert row.dest_rel is not None
        source = self.folders.source(row.tenant, row.rel_path)
        target = self.folders.destination(ARCHIVE, row.tenant, row.dest_rel)
        await diskwork.in_thread(move_file, source, target)
        self.journal.set_file_state(row.id, FileState.ARCHIVED)
        self.claims.release((row.tenant, row.rel_path))
