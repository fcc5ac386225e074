"""The outbox in a real journal: events commit with their state change, or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from event_samples import live_task, new_file

from hrec_ingest.journal import FileState, Journal, TaskState

pytestmark = pytest.mark.timeout(30)

# The schema of version 1 as it shipped, to prove an old journal still opens.
V1_DDL = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, language TEXT NOT NULL,
    task_name TEXT NOT NULL, state TEXT NOT NULL, post_attempts INTEGER NOT NULL DEFAULT 0,
    server_status TEXT, remaining_seconds INTEGER, next_poll_at REAL,
    poll_errors INTEGER NOT NULL DEFAULT 0, error TEXT, created_at REAL NOT NULL,
    submitted_at REAL, updated_at REAL NOT NULL);
CREATE TABLE files (
    id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, rel_path TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, sha256 TEXT NOT NULL, audio TEXT,
    task_id TEXT, meeting_index INTEGER, state TEXT NOT NULL, out_stem TEXT, dest_kind TEXT,
    dest_rel TEXT, error TEXT, taken_at REAL NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY, body TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL, created_at REAL NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO tasks(task_id, tenant, language, task_name, state, created_at, updated_at)
    VALUES ('old', 'demo', 'English', 'Calls', 'submitted', 1, 1);
INSERT INTO files(tenant, rel_path, size, mtime_ns, inode, sha256, task_id, meeting_index, state,
                  out_stem, dest_kind, dest_rel, taken_at, updated_at)
    VALUES ('demo', 'old.wav', 5, 1, 1, 'ee', 'old', 1, 'exported', 'old', 'archive', 'old.wav',
            1, 1);
"""


def kinds(journal: Journal) -> list[str]:
    return [e.kind for e in journal.outbox.webhook_due(1e12, 100)]


def test_a_file_life_records_each_event_once(journal: Journal) -> None:
    live_task(journal, "T1", {"a.wav": "exported", "sub/b.wav": "failed"})
    assert kinds(journal) == ["task.submitted", "task.done", "file.exported", "file.failed"]
    events = journal.outbox.webhook_due(1e12, 100)
    assert len({e.event_id for e in events}) == 4
    submitted = events[0]
    assert submitted.facts["files"] == ["a.wav", "sub/b.wav"]
    failed = events[3]
    assert failed.facts["error"]["error"]["name"] == "SttError"
    assert [e.kind for e in journal.outbox.manifest_due(100)] == ["file.exported", "file.failed"]


def test_replayed_state_change_records_nothing_more(journal: Journal) -> None:
    (row,) = live_task(journal, "T1", {"a.wav": "exported"})
    journal.set_file_state(row.id, FileState.ARCHIVED)  # a replay after a crash
    journal.set_task_state("T1", TaskState.DONE)
    assert kinds(journal) == ["task.submitted", "task.done", "file.exported"]


def test_event_and_state_change_commit_together(journal: Journal, tmp_path: Path) -> None:
    (row,) = journal.create_intent("T1", "demo", "English", "Calls", [new_file("a.wav")])
    other = sqlite3.connect(tmp_path / "state" / "journal.sqlite3", isolation_level=None)
    try:
        # A process that dies before COMMIT: neither the state nor the event is there.
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE files SET state = 'archived' WHERE id = ?", (row.id,))
        assert other.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 1
        other.close()  # no COMMIT: SQLite rolls back, as after kill -9
        assert journal.require_file(row.id).state is FileState.BATCHED
        assert journal.outbox.depth() == {"manifest": 0, "webhook": 0}
        # The same change committed brings its event with it.
        other = sqlite3.connect(tmp_path / "state" / "journal.sqlite3", isolation_level=None)
        other.execute("UPDATE files SET state = 'archived' WHERE id = ?", (row.id,))
    finally:
        other.close()
    assert kinds(journal) == ["file.exported"]


def test_without_webhook_only_manifest_work_is_recorded(journal: Journal) -> None:
    assert journal.outbox.enable_webhook(False) == 0
    live_task(journal, "T1", {"a.wav": "exported", "b.wav": "failed"})
    assert journal.outbox.depth() == {"manifest": 2, "webhook": 0}
    journal.outbox.manifest_written([e.id for e in journal.outbox.manifest_due(100)])
    assert journal.outbox.depth() == {"manifest": 0, "webhook": 0}
    assert journal_rows(journal) == 0  # nothing piles up


def test_turning_webhook_off_drops_pending_deliveries(journal: Journal) -> None:
    live_task(journal, "T1", {"a.wav": "exported"})
    assert journal.outbox.depth() == {"manifest": 1, "webhook": 3}
    assert journal.outbox.enable_webhook(False) == 3
    assert journal.outbox.depth() == {"manifest": 1, "webhook": 0}  # the manifest still gets it


def test_rows_are_deleted_once_both_consumers_are_done(journal: Journal) -> None:
    live_task(journal, "T1", {"a.wav": "exported"})
    for event in journal.outbox.webhook_due(1e12, 100):
        journal.outbox.delivered(event.id)
    assert journal_rows(journal) == 1  # the file event waits for its manifest line
    journal.outbox.manifest_written([e.id for e in journal.outbox.manifest_due(100)])
    assert journal_rows(journal) == 0


def test_body_is_stored_once(journal: Journal) -> None:
    live_task(journal, "T1", {"a.wav": "exported"})
    event = journal.outbox.webhook_due(1e12, 1)[0]
    assert journal.outbox.store_body(event.id, b'{"first":1}') == b'{"first":1}'
    assert journal.outbox.store_body(event.id, b'{"second":2}') == b'{"first":1}'
    assert journal.outbox.webhook_due(1e12, 1)[0].body == b'{"first":1}'


def test_retry_later_holds_the_event_back(journal: Journal) -> None:
    live_task(journal, "T1", {"a.wav": "exported"})
    first = journal.outbox.webhook_due(1e12, 1)[0]
    journal.outbox.retry_later(first.id, 5000.0, "HTTP 500")
    assert first.id not in [e.id for e in journal.outbox.webhook_due(4999.0, 100)]
    again = [e for e in journal.outbox.webhook_due(5000.0, 100) if e.id == first.id]
    assert again[0].attempts == 1
    assert journal.outbox.next_webhook_at() == 0.0  # the others are due at once


def test_a_version_1_journal_opens_and_records_events(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    db.executescript(V1_DDL)
    db.close()
    journal = Journal.open(tmp_path)
    try:
        tables = {r[0] for r in journal_query(journal, "SELECT name FROM sqlite_master")}
        assert "outbox" not in tables and "events" in tables
        assert journal_query(journal, "SELECT value FROM meta WHERE key = 'schema_version'") == [
            ("2",)
        ]
        journal.outbox.enable_webhook(True)
        (row,) = journal.files_of_task("old")
        journal.set_file_state(row.id, FileState.ARCHIVED)  # the old row goes on as before
        assert kinds(journal) == ["file.exported"]
    finally:
        journal.close()
    Journal.open(tmp_path).close()  # and opens again, already migrated


def journal_rows(journal: Journal) -> int:
    return int(journal_query(journal, "SELECT COUNT(*) FROM events")[0][0])


def journal_query(journal: Journal, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(journal.path)
    try:
        return [tuple(r) for r in db.execute(sql).fetchall()]
    finally:
        db.close()
