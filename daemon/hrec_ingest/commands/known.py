"""What this machine already knows of a task: the daemon's journal, or the record ``submit`` left.

``fetch`` names transcripts after the audio files they belong to when it can,
and after the taskId when it cannot: names built from what the server returns
would let a server write anywhere. Only local knowledge becomes a name here,
and even that is checked to be a plain relative path.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hrec_ingest.commands.records import RecordError, load_record
from hrec_ingest.fsops import stem_for
from hrec_ingest.journal import Journal, JournalError, TaskRow
from hrec_ingest.pipeline.outcomes import source_doc, task_doc


@dataclass(frozen=True, slots=True)
class KnownMeeting:
    """One meeting's audio file as it was known here: its path, preferred stem, ``source`` block."""

    rel_path: str
    stem: str
    source: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KnownTask:
    """A task this machine sent: its tenant, ``task`` block and meetings by 1-based index."""

    tenant: str
    task: dict[str, Any]
    meetings: dict[int, KnownMeeting]
    origin: str


def is_plain_relative(path: str) -> bool:
    """Whether ``path`` is ``a/b/c`` with no empty, ``.``, ``..`` or hidden part: safe to join."""
    parts = path.split("/")
    return all(part and not part.startswith(".") and "\0" not in part for part in parts)


def stem_of(rel_path: str) -> str:
    """The transcript stem of an audio path: ``sub/call.wav`` -> ``sub/call``."""
    folder, _, name = rel_path.rpartition("/")
    stem = stem_for(name)
    return f"{folder}/{stem}" if folder else stem


def look_up(state_dir: Path, task_id: str) -> tuple[KnownTask | None, list[str]]:
    """What the journal, else a submit record, in ``state_dir`` says of ``task_id``.

    Returns the knowledge (None if there is none) and notes for the user on
    anything that could not be read; those never stop a fetch.
    """
    notes: list[str] = []
    try:
        journal = Journal.open_read_only(state_dir)
    except JournalError as exc:
        journal = None
        notes.append(f"the journal cannot be read ({exc}); names come from the taskId")
    if journal is not None:
        try:
            known = from_journal(journal, task_id)
        finally:
            journal.close()
        if known is not None:
            return known, notes
    try:
        record = load_record(state_dir, task_id)
    except RecordError as exc:
        notes.append(f"ignoring the submit record: {exc}")
        return None, notes
    if record is None:
        return None, notes
    meetings = {}
    for index, source in record.sources.items():
        path = source["path"]
        if is_plain_relative(path):
            meetings[index] = KnownMeeting(path, stem_of(path), dict(source))
    return KnownTask(record.tenant, dict(record.task), meetings, "submit record"), notes


def from_journal(journal: Journal, task_id: str) -> KnownTask | None:
    """The daemon's knowledge of a task: each meeting's file, and the stem it gave or would give."""
    task = journal.task(task_id)
    if task is None:
        return None
    meetings: dict[int, KnownMeeting] = {}
    for row in journal.files_of_task(task_id):
        if row.meeting_index is None or not is_plain_relative(row.rel_path):
            continue
        stem = row.out_stem if row.out_stem and is_plain_relative(row.out_stem) else None
        meetings[row.meeting_index] = KnownMeeting(
            row.rel_path, stem or stem_of(row.rel_path), source_doc(row)
        )
    return KnownTask(task.tenant, task_block(task), meetings, "journal")


def task_block(task: TaskRow) -> dict[str, Any]:
    """The transcript JSON's ``task`` block for a journalled task, as the daemon writes it."""
    return task_doc(task)
