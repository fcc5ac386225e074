"""The journal: real SQLite on disk, reopened as after a crash."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hrec_ingest.journal import FileState, Journal, JournalError, NewFile, TaskState


def _new(name: str, tenant: str = "demo") -> NewFile:
    return NewFile(tenant, name, 10, 1, 2, "ab" * 32, {"format": "wav"})


def test_intent_survives_reopen(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    rows = journal.create_intent("t1", "demo", "English", "Task", [_new("a.wav"), _new("b.wav")])
    assert [r.meeting_index for r in rows] == [1, 2]
    journal.record_post_attempt("t1", [rows[1].id, rows[0].id])
    journal.close()  # no clean shutdown is needed: every method committed

    reopened = Journal.open(tmp_path)
    (task,) = reopened.tasks_in_state(TaskState.INTENT)
    assert task.task_id == "t1" and task.post_attempts == 1
    files = reopened.files_of_task("t1")
    assert [(f.rel_path, f.meeting_index) for f in files] == [("b.wav", 1), ("a.wav", 2)]
    assert sorted(reopened.active_paths()) == [("demo", "a.wav"), ("demo", "b.wav")]
    assert reopened.integrity_problems() == []


def test_one_active_row_per_path(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    journal.create_intent("t1", "demo", "English", "Task", [_new("a.wav")])
    with pytest.raises(sqlite3.IntegrityError):
        journal.create_intent("t2", "demo", "English", "Task", [_new("a.wav")])
    # Once the first file is final, the same name is a new file.
    (row,) = journal.files_of_task("t1")
    journal.set_file_state(row.id, FileState.ARCHIVED)
    journal.create_intent("t3", "demo", "English", "Task", [_new("a.wav")])


def test_names_are_reserved(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    (row,) = journal.create_intent("t1", "demo", "English", "Task", [_new("a.wav")])
    journal.reserve_names(
        row.id, FileState.EXPORTING, out_stem="a", dest_kind="archive", dest_rel="a.wav"
    )
    assert journal.name_reserved("demo", out_stem="a")
    assert journal.name_reserved("demo", dest=("archive", "a.wav"))
    assert not journal.name_reserved("demo", dest=("failed", "a.wav"))
    assert not journal.name_reserved("other", out_stem="a")


def test_split_moves_files_to_new_intents(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    rows = journal.create_intent(
        "t1", "demo", "English", "Task", [_new(f"{i}.wav") for i in range(4)]
    )
    journal.split_intent("t1", [("t2", [rows[0].id, rows[1].id]), ("t3", [rows[2].id, rows[3].id])])
    assert journal.task("t1").state is TaskState.REJECTED  # type: ignore[union-attr]
    assert [r.rel_path for r in journal.files_of_task("t3")] == ["2.wav", "3.wav"]
    assert [r.meeting_index for r in journal.files_of_task("t3")] == [1, 2]
    assert journal.integrity_problems() == []


def test_corrupted_journal_is_refused_not_replaced(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    journal.create_intent("t1", "demo", "English", "Task", [_new("a.wav")])
    journal.close()
    path = tmp_path / "journal.sqlite3"
    for extra in tmp_path.glob("journal.sqlite3-*"):
        extra.unlink()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)
    path.write_bytes(bytes(data))
    with pytest.raises(JournalError, match="damaged or unreadable.*not replaced"):
        Journal.open(tmp_path)
    assert path.read_bytes() == bytes(data)  # left exactly as found


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "journal.sqlite3")
    db.execute("CREATE TABLE other(x)")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="not an hrec-ingest journal"):
        Journal.open(tmp_path)


def test_unreadable_journal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "journal.sqlite3").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(JournalError, match="way out|not replaced"):
        Journal.open(tmp_path)


def test_names_reserved_answers_for_many_names_at_once(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    rows = journal.create_intent("t1", "demo", "English", "Task", [_new("a.wav"), _new("b.wav")])
    journal.reserve_many(
        FileState.EXPORTING, "archive", [(rows[0].id, "a", "a.wav"), (rows[1].id, None, "b.wav")]
    )
    stems, dests = journal.names_reserved("demo", {"a", "b", "c"}, "archive", {"b.wav", "c.wav"})
    assert (stems, dests) == ({"a"}, {"b.wav"})
    assert journal.names_reserved("demo", {"a"}, "failed", {"a.wav"}) == ({"a"}, set())
    assert journal.names_reserved("other", {"a"}, "archive", {"a.wav"}) == (set(), set())


def test_groups_larger_than_one_statement_are_written_whole(tmp_path: Path) -> None:
    """Groups are written a chunk of rows per statement; 200 files take three."""
    journal = Journal.open(tmp_path)
    names = [f"{i:03}.wav" for i in range(200)]
    rows = journal.create_intent("t1", "demo", "English", "Task", [_new(n) for n in names])
    assert [(r.rel_path, r.meeting_index) for r in rows] == [
        (n, i) for i, n in enumerate(names, start=1)
    ]
    journal.record_post_attempt("t1", [r.id for r in reversed(rows)])
    journal.reserve_many(
        FileState.EXPORTING, "archive", [(r.id, f"s{r.id}", f"d{r.id}.wav") for r in rows]
    )
    journal.set_files_state([r.id for r in rows[:150]], FileState.EXPORTED)

    files = journal.files_of_task("t1")
    assert [f.rel_path for f in files] == list(reversed(names))
    assert [f.meeting_index for f in files] == list(range(1, 201))
    assert all((f.out_stem, f.dest_rel) == (f"s{f.id}", f"d{f.id}.wav") for f in files)
    exported = {f.id for f in files if f.state is FileState.EXPORTED}
    assert exported == {r.id for r in rows[:150]}
    assert all(f.state is FileState.EXPORTING for f in files if f.id not in exported)
    assert all(f.audio == {"format": "wav"} for f in files)


def test_audio_facts_written_with_nan_are_read_back(tmp_path: Path) -> None:
    """orjson refuses NaN, which the standard library writes; such a row still reads."""
    journal = Journal.open(tmp_path)
    new = NewFile("demo", "a.wav", 10, 1, 2, "ab" * 32, {"durationSeconds": float("nan")})
    (row,) = journal.create_intent("t1", "demo", "English", "Task", [new])
    assert row.audio is not None and row.audio["durationSeconds"] != row.audio["durationSeconds"]
