"""Accepted tasks: what was sent, where each is in its life, and how it reads back.

A task holds no timer and no coroutine. Its status is a pure function of the
time elapsed since it was accepted and of the timings it was accepted with,
so tens of thousands of tasks in flight cost nothing until someone asks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hrec_ingest.miaop.models import TaskStatus, meeting_id


class FileRecord(NamedTuple):
    """One uploaded file: ``(name, size, sha256)`` first, then what the server derived."""

    name: str
    size: int
    sha256: str
    duration_seconds: float
    base_language: str
    # Set when an ``error_files`` pattern matched: the meeting ends in "error".
    fails: bool


class Phase(NamedTuple):
    status: TaskStatus
    remaining_seconds: int
    # Seconds after acceptance at which the task entered this status.
    entered_after: float


@dataclass(slots=True)
class TaskRecord:
    """A task as the server holds it; times are on the simulator's clock."""

    task_id: str
    tenant: str
    task_name: str
    supervisor: dict[str, str]
    base_languages: list[str]
    generic_additional_info: str | None
    # The TaskMetadata object as sent, kept to echo it back (guide 2.3.1.1).
    submitted: dict[str, Any]
    files: list[FileRecord]
    created: float
    created_epoch: float
    pending_seconds: float
    processing_seconds: float
    # Name of the file that matched ``task_error_files``, if one did.
    task_error_file: str | None = None
    archived: bool = False
    archived_epoch: float | None = None

    def phase(self, now: float) -> Phase:
        """Where the task is at ``now`` (on the simulator's clock)."""
        elapsed = now - self.created
        processing_ends = self.pending_seconds + self.processing_seconds
        if elapsed < self.pending_seconds:
            # While pending, the guide's estimate is the whole processing time.
            return Phase(TaskStatus.PENDING, math.ceil(self.processing_seconds), 0.0)
        if elapsed < processing_ends:
            remaining = math.ceil(processing_ends - elapsed)
            return Phase(TaskStatus.PROCESSING, remaining, self.pending_seconds)
        final = TaskStatus.ERROR if self.task_error_file else TaskStatus.DONE
        return Phase(final, 0, processing_ends)

    def status(self, now: float) -> TaskStatus:
        """The task's ``taskStatus`` at ``now``."""
        return self.phase(now).status

    def update_epoch(self, now: float) -> float:
        """Wall-clock seconds of the task's last change: a status change or archiving."""
        changed = self.created_epoch + self.phase(now).entered_after
        if self.archived_epoch is not None:
            changed = max(changed, self.archived_epoch)
        return changed

    def meeting_status(self, index: int, now: float) -> TaskStatus:
        """``metadata.status`` of the meeting of file ``index`` (0-based)."""
        status = self.status(now)
        if status is TaskStatus.DONE and self.files[index].fails:
            return TaskStatus.ERROR
        return status


def total_processing_seconds(fixed: float, per_audio_second: float, audio_seconds: float) -> float:
    """Time a task spends in sttProcessing: a fixed part plus a part per second of audio."""
    return fixed + per_audio_second * audio_seconds


def _iso(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


def task_document(task: TaskRecord, now: float) -> dict[str, Any]:
    """The TaskMetadataResponse object of ``task`` (guide 2.3.1, with 2.4.1's extraData)."""
    phase = task.phase(now)
    update_epoch = task.update_epoch(now)
    document = dict(task.submitted)
    document.update(
        taskId=task.task_id,
        taskStatus=phase.status.value,
        sttRemainingTime=phase.remaining_seconds,
        taskUpdateTime=_iso(update_epoch),
        meetings=[
            {"meetingId": meeting_id(i, task.task_id)} for i in range(1, len(task.files) + 1)
        ],
        extraData={
            # Seconds, as the filter of section 2.4.1 compares them.
            "taskUpdateTimeNumeric": int(update_epoch),
            "archive": task.archived,
            "tenant": task.tenant,
            "supervisor": dict(task.supervisor),
        },
    )
    return document


def _error_info(task: TaskRecord, file: FileRecord) -> dict[str, str]:
    if task.task_error_file is not None:
        return {
            "name": "TaskProcessingError",
            "message": f"task failed while processing {task.task_error_file!r}",
            "errorLevel": "critical",
        }
    return {
        "name": "TranscriptionError",
        "message": f"speech-to-text failed for {file.name!r}",
        "errorLevel": "critical",
    }


def meeting_document(task: TaskRecord, index: int, now: float) -> dict[str, Any]:
    """The answer of ``GET /api/meetings/{meetingId}`` for file ``index`` (0-based)."""
    file = task.files[index]
    status = task.meeting_status(index, now)
    meeting_desc = task.submitted["meetings"][index]
    metadata: dict[str, Any] = dict(meeting_desc) if isinstance(meeting_desc, dict) else {}
    metadata.update(status=status.value, taskId=task.task_id, tenant=task.tenant)
    if status is TaskStatus.ERROR:
        metadata["errorInfo"] = _error_info(task, file)
    return {"meetingId": meeting_id(index + 1, task.task_id), "metadata": metadata}


def parse_meeting_id(value: str) -> tuple[int, str] | None:
    """Split ``<index>.<taskId>`` into a 0-based index and the taskId, or None."""
    index, dot, task_id = value.partition(".")
    if not (dot and task_id and index.isascii() and index.isdigit()) or index[0] == "0":
        return None
    return int(index) - 1, task_id
