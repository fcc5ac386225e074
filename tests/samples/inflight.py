"""Tasks in flight without uploading them: seeded into a simulator and a journal alike.

Polling tests and the scale benchmarks need hundreds or tens of thousands of
accepted tasks; uploading each would measure uploads, not polling. The
simulator learns of a task as if ``POST /hrec`` had accepted it, and the
journal holds the same task as submitted, as if the daemon had sent it.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from hrec_ingest.journal import FileState, NewFile, TaskState
from hrec_ingest.pipeline.taskmeta import task_metadata
from hrec_ingest.simulator import SimulatorState
from hrec_ingest.simulator.tasks import FileRecord, TaskRecord

SUPERVISOR = "supervisor@example.com"
LANGUAGE = "English"


@dataclass(frozen=True, slots=True)
class SeededTask:
    task_id: str
    tenant: str
    rel_paths: tuple[str, ...]


def seed_server_task(
    state: SimulatorState,
    *,
    tenant: str = "demo",
    pending_seconds: float = 0.5,
    processing_seconds: float = 1.0,
    files: int = 1,
    age_seconds: float = 0.0,
    supervisor: str = SUPERVISOR,
    prefix: str = "call",
    folder: str = "",
) -> SeededTask:
    """Register an accepted task in ``state``, created ``age_seconds`` ago; return its names.

    The files' inbox paths are below ``folder`` (e.g. ``"site-1/"``); the server sees names only.
    """
    task_id = state.new_task_id()
    names = [f"{prefix}-{task_id}-{i}.wav" for i in range(1, files + 1)]
    created = state.now() - age_seconds
    metadata = task_metadata(
        task_id=task_id,
        tenant=tenant,
        task_name="seeded",
        language=LANGUAGE,
        file_names=names,
        supervisor_email=supervisor,
        supervisor_name="",
        generic_additional_info=None,
        now=datetime.now(UTC),
    )
    state.add_task(
        TaskRecord(
            task_id=task_id,
            tenant=tenant,
            task_name="seeded",
            supervisor={"name": "", "email": supervisor},
            base_languages=[LANGUAGE],
            generic_additional_info=None,
            submitted=metadata.model_dump(mode="json", exclude_none=True),
            files=[
                FileRecord(
                    name, 1000, hashlib.sha256(name.encode()).hexdigest(), 1.0, LANGUAGE, False
                )
                for name in names
            ],
            created=created,
            created_epoch=state.epoch(created),
            pending_seconds=pending_seconds,
            processing_seconds=processing_seconds,
        )
    )
    return SeededTask(task_id, tenant, tuple(folder + name for name in names))


def _new_files(task: SeededTask) -> list[NewFile]:
    return [
        NewFile(task.tenant, rel, 1000, 0, 0, hashlib.sha256(rel.encode()).hexdigest(), None)
        for rel in task.rel_paths
    ]


def bulk_seed_journal(
    path: Path,
    tasks: Sequence[SeededTask],
    *,
    known_at: float,
    next_poll_at: float,
    server_status: str | None = None,
) -> None:
    """Record many tasks as submitted in one transaction (the journal must exist already).

    Through the journal's own ``create_intent`` and ``mark_submitted``, tens
    of thousands of tasks would take two fsyncs each; this writes the rows
    those methods would write, all at once, with the status last learnt
    (``server_status``) as of ``known_at``.
    """
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO tasks(task_id, tenant, language, task_name, state, post_attempts,"
            " server_status, next_poll_at, created_at, submitted_at, updated_at)"
            " VALUES (?, ?, ?, 'seeded', ?, 1, ?, ?, ?, ?, ?)",
            [
                (t.task_id, t.tenant, LANGUAGE, TaskState.SUBMITTED, server_status, next_poll_at)
                + (known_at, known_at, known_at)
                for t in tasks
            ],
        )
        db.executemany(
            "INSERT INTO files(tenant, rel_path, size, mtime_ns, inode, sha256, task_id,"
            " meeting_index, state, taken_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (f.tenant, f.rel_path, f.size, 0, 0, f.sha256, t.task_id, index)
                + (FileState.SUBMITTED, known_at, known_at)
                for t in tasks
                for index, f in enumerate(_new_files(t), start=1)
            ],
        )
        db.execute("COMMIT")
    finally:
        db.close()
