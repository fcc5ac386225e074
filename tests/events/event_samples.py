"""Sample data of the event tests: folders, files, and a task taken through its life."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hrec_ingest.journal import FileRow, FileState, Journal, NewFile, TaskState
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.pipeline.watcher import InboxLayout

FORMATS = ("json", "txt", "srt", "vtt")


def make_folders(root: Path, *, multi_tenant: bool = False) -> Folders:
    layout = InboxLayout(root / "inbox", frozenset({"demo"}), multi_tenant=multi_tenant)
    return Folders(layout, root / "out", root / "archive", root / "failed", FORMATS)


def new_file(rel_path: str, seed: int = 1) -> NewFile:
    return NewFile("demo", rel_path, 1000 + seed, 1, seed, f"{seed:02x}" * 32, {"format": "wav"})


def failure(task_id: str, index: int) -> dict[str, Any]:
    """An ``.error.json`` document as the exporter writes it for a meeting in error."""
    return {
        "source": {},
        "stage": "process",
        "error": {"name": "SttError", "message": "no speech found", "errorLevel": "critical"},
        "taskId": task_id,
        "meetingId": f"{index}.{task_id}",
        "attempts": 1,
        "failedAt": "2026-11-21T10:00:00Z",
    }


def live_task(journal: Journal, task_id: str, outcomes: dict[str, str]) -> list[FileRow]:
    """Take a task through submitted and done, then export or fail each file as ``outcomes`` says.

    ``outcomes`` maps a path below the inbox to ``"exported"`` or ``"failed"``;
    every step is the journal call the pipeline makes.
    """
    files = [new_file(rel, seed) for seed, rel in enumerate(outcomes, start=1)]
    rows = journal.create_intent(task_id, "demo", "English", "Calls", files)
    journal.record_post_attempt(task_id, [r.id for r in rows])
    journal.mark_submitted(task_id, 0.0)
    journal.set_task_state(task_id, TaskState.DONE)
    for row in rows:
        if outcomes[row.rel_path] == "exported":
            export(journal, row)
        else:
            fail(journal, row, failure(task_id, row.meeting_index or 0))
    return [journal.require_file(r.id) for r in rows]


def export(journal: Journal, row: FileRow) -> None:
    stem = row.rel_path.rsplit(".", 1)[0]
    journal.reserve_names(
        row.id, FileState.EXPORTING, out_stem=stem, dest_kind="archive", dest_rel=row.rel_path
    )
    journal.set_file_state(row.id, FileState.EXPORTED)
    journal.set_file_state(row.id, FileState.ARCHIVED)


def fail(journal: Journal, row: FileRow, error: dict[str, Any]) -> None:
    journal.reserve_names(
        row.id,
        FileState.FAILING,
        out_stem=None,
        dest_kind="failed",
        dest_rel=row.rel_path,
        error=error,
    )
    journal.set_file_state(row.id, FileState.FAILED)
