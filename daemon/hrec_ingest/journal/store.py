"""The journal: one SQLite file in STATE_DIR, the only state that survives a restart.

Every method is one short transaction. Commits are synchronous=FULL in WAL mode,
so a row that says a step is done survives a power cut, and the pipeline
always writes the journal before it moves a file on disk (architecture.md).
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from hrec_ingest.events.outbox import Outbox
from hrec_ingest.journal.schema import (
    ACTIVE_FILE_STATES,
    DDL,
    MIGRATIONS,
    SCHEMA_VERSION,
    FileState,
    TaskState,
)
from hrec_ingest.sqlite_tx import column_json, immediate, tuple_cursor

JOURNAL_NAME = "journal.sqlite3"


class JournalError(Exception):
    """The journal cannot be opened or is not ours; the message says the way out."""


@dataclass(frozen=True, slots=True)
class NewFile:
    tenant: str
    rel_path: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    audio: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class FileRow:
    id: int
    tenant: str
    rel_path: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    audio: dict[str, Any] | None
    task_id: str | None
    meeting_index: int | None
    state: FileState
    out_stem: str | None
    dest_kind: str | None
    dest_rel: str | None
    error: dict[str, Any] | None
    taken_at: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class TaskRow:
    task_id: str
    tenant: str
    language: str
    task_name: str
    state: TaskState
    post_attempts: int
    server_status: str | None
    remaining_seconds: float | None
    next_poll_at: float | None
    poll_errors: int
    error: str | None
    created_at: float
    submitted_at: float | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A task's status as a poll learnt it; ``state`` is set when the poll finished the task."""

    task_id: str
    server_status: str
    remaining_seconds: float | None
    next_poll_at: float
    state: TaskState | None = None
    error: str | None = None


_FILE_COLUMNS = ", ".join(FileRow.__dataclass_fields__)
_TASK_COLUMNS = ", ".join(TaskRow.__dataclass_fields__)


_FILE_STATES = {str(state): state for state in FileState}


def _file_row(row: Sequence[Any]) -> FileRow:
    # Positional, the state looked up in a dict, the JSON read by orjson: a task's
    # rows are read about three times per file, and building a dict per row with
    # the stdlib's json took 7 µs of the event loop's time per row.
    (
        id_, tenant, rel_path, size, mtime_ns, inode, sha256, audio, task_id,
        meeting_index, state, out_stem, dest_kind, dest_rel, error, taken_at, updated_at,
    ) = row  # fmt: skip
    return FileRow(
        id_, tenant, rel_path, size, mtime_ns, inode, sha256, column_json(audio),
        task_id, meeting_index, _FILE_STATES[state], out_stem, dest_kind, dest_rel,
        column_json(error), taken_at, updated_at,
    )  # fmt: skip


# Files per multi-row statement: 12 parameters a row stays under the 999 that
# SQLite allowed before 3.32.
_ROWS_PER_STATEMENT = 80


def _case_by_id(values: Sequence[tuple[int, object]]) -> tuple[str, list[object]]:
    """``CASE id WHEN ? THEN ? … END`` and its parameters: a value per file in one statement."""
    params: list[object] = []
    for file_id, value in values:
        params += (file_id, value)
    return "CASE id" + " WHEN ? THEN ?" * len(values) + " END", params


def _json_array(values: Iterable[object]) -> str:
    """A JSON array for ``json_each(?)``: one parameter however many ids or names."""
    return orjson.dumps(list(values)).decode()


def _task_row(row: sqlite3.Row) -> TaskRow:
    values = dict(row)
    values["state"] = TaskState(values["state"])
    return TaskRow(**values)


def _placeholders(items: Sequence[object]) -> str:
    return ", ".join("?" for _ in items)


class Journal:
    """The daemon's durable record of tasks and files (see schema.py for the states)."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self.outbox = Outbox(connection)  # the events table (hrec_ingest/events)

    @classmethod
    def open(cls, state_dir: Path) -> Journal:
        """Open (or create) the journal in ``state_dir``; refuse a damaged or foreign file.

        A journal that exists but cannot be read is never replaced by an empty
        one: starting from nothing would forget tasks in flight and send their
        files again.
        """
        path = state_dir / JOURNAL_NAME
        if path.exists() and path.stat().st_size > 0:
            _check_read_only(path)
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise JournalError(_unopenable_message(path, exc)) from None
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(DDL)
            db.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            _migrate(db)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise JournalError(_damaged_message(path, exc)) from None
        except JournalError:
            db.close()
            raise
        return cls(db, path)

    @classmethod
    def open_read_only(cls, state_dir: Path) -> Journal | None:
        """Open the journal in ``state_dir`` for reading only; None when there is none yet.

        For commands that look while the daemon runs (``status``): the
        connection cannot write, so it never creates a journal, never changes
        one and never takes the write lock; in WAL mode the daemon commits on
        while it reads. A journal being created this instant holds nothing
        yet and is None too. The full ``quick_check`` of :meth:`open` is
        skipped: on a large journal it would keep a read snapshot open long.
        """
        path = state_dir / JOURNAL_NAME
        # An empty file is a journal being created this instant: nothing in it yet.
        if not path.is_file() or path.stat().st_size == 0:
            return None
        # No -wal file means no connection has the journal open, and the file
        # holds everything: read it as it is. A read-only WAL connection would
        # otherwise leave -wal and -shm files behind, owned by whoever ran this.
        wal = path.with_name(path.name + "-wal")
        uri = f"{path.absolute().as_uri()}?mode=ro" + ("" if wal.exists() else "&immutable=1")
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise JournalError(f"cannot open the journal {path}: {exc}") from None
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=5000")
            if _being_created(db):
                db.close()
                return None
            _check_schema(db, path)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise JournalError(f"cannot read the journal {path}: {exc}") from None
        except JournalError:
            db.close()
            raise
        return cls(db, path)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run several reads against one consistent state of the journal (one read transaction)."""
        self._db.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db)

    # --- tasks -------------------------------------------------------------

    def create_intent(
        self, task_id: str, tenant: str, language: str, task_name: str, files: Sequence[NewFile]
    ) -> list[FileRow]:
        """Write a batch's intent: the task row and its files, before anything is sent."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO tasks(task_id, tenant, language, task_name, state, created_at,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (task_id, tenant, language, task_name, TaskState.INTENT, now, now),
            )
            # One statement per chunk of rows, not per file (see ``set_files_state``).
            rows = [
                (
                    f.tenant,
                    f.rel_path,
                    f.size,
                    f.mtime_ns,
                    f.inode,
                    f.sha256,
                    json.dumps(f.audio) if f.audio else None,
                    task_id,
                    index,
                    FileState.BATCHED,
                    now,
                    now,
                )
                for index, f in enumerate(files, start=1)
            ]
            for start in range(0, len(rows), _ROWS_PER_STATEMENT):
                chunk = rows[start : start + _ROWS_PER_STATEMENT]
                db.execute(
                    "INSERT INTO files(tenant, rel_path, size, mtime_ns, inode, sha256, audio,"
                    " task_id, meeting_index, state, taken_at, updated_at) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                    [value for row in chunk for value in row],
                )
        return self.files_of_task(task_id)

    def record_post_attempt(self, task_id: str, meeting_order: Sequence[int]) -> None:
        """Note that a POST is about to leave, with the files' final meeting order.

        From here on the outcome is unknown until the server answers, so a
        restart asks the server about this taskId before sending it again.
        """
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE tasks SET post_attempts = post_attempts + 1, updated_at = ?"
                " WHERE task_id = ?",
                (now, task_id),
            )
            # One statement per chunk, not per file (see ``set_files_state``).
            order = list(enumerate(meeting_order, start=1))
            for start in range(0, len(order), _ROWS_PER_STATEMENT):
                chunk = [
                    (file_id, index)
                    for index, file_id in order[start : start + _ROWS_PER_STATEMENT]
                ]
                indexes, params = _case_by_id(chunk)
                db.execute(
                    f"UPDATE files SET meeting_index = {indexes}"
                    " WHERE id IN (SELECT value FROM json_each(?))",
                    (*params, _json_array(file_id for file_id, _ in chunk)),
                )

    def drop_files(self, file_ids: Iterable[int], reason: str) -> None:
        """Take files out of an intent that was never accepted (changed or vanished)."""
        ids = list(file_ids)
        if not ids:
            return
        now = time.time()
        error = json.dumps({"name": "Dropped", "message": reason})
        with self._transaction() as db:
            db.execute(
                f"UPDATE files SET state = ?, error = ?, updated_at = ?, meeting_index = NULL"
                f" WHERE id IN ({_placeholders(ids)})",
                (FileState.DROPPED, error, now, *ids),
            )

    def mark_submitted(self, task_id: str, next_poll_at: float) -> None:
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE tasks SET state = ?, submitted_at = ?, next_poll_at = ?, updated_at = ?"
                " WHERE task_id = ?",
                (TaskState.SUBMITTED, now, next_poll_at, now, task_id),
            )
            db.execute(
                "UPDATE files SET state = ?, updated_at = ? WHERE task_id = ? AND state = ?",
                (FileState.SUBMITTED, now, task_id, FileState.BATCHED),
            )

    def set_task_state(self, task_id: str, state: TaskState, error: str | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE tasks SET state = ?, error = COALESCE(?, error), updated_at = ?"
                " WHERE task_id = ?",
                (state, error, time.time(), task_id),
            )

    def split_intent(self, task_id: str, parts: Sequence[tuple[str, Sequence[int]]]) -> None:
        """Replace a refused intent by smaller ones (new taskIds), to find the file refused."""
        now = time.time()
        with self._transaction() as db:
            old = db.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
            db.execute(
                "UPDATE tasks SET state = ?, updated_at = ? WHERE task_id = ?",
                (TaskState.REJECTED, now, task_id),
            )
            for new_id, file_ids in parts:
                db.execute(
                    "INSERT INTO tasks(task_id, tenant, language, task_name, state, created_at,"
                    " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        new_id,
                        old["tenant"],
                        old["language"],
                        old["task_name"],
                        TaskState.INTENT,
                        now,
                        now,
                    ),
                )
                for index, file_id in enumerate(file_ids, start=1):
                    db.execute(
                        "UPDATE files SET task_id = ?, meeting_index = ?, updated_at = ?"
                        " WHERE id = ?",
                        (new_id, index, now, file_id),
                    )

    def update_poll(
        self,
        task_id: str,
        *,
        server_status: str | None,
        remaining_seconds: float | None,
        next_poll_at: float,
        poll_errors: int,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE tasks SET server_status = COALESCE(?, server_status),"
                " remaining_seconds = COALESCE(?, remaining_seconds), next_poll_at = ?,"
                " poll_errors = ?, updated_at = ? WHERE task_id = ?",
                (server_status, remaining_seconds, next_poll_at, poll_errors, time.time(), task_id),
            )

    def record_statuses(self, updates: Sequence[StatusUpdate]) -> None:
        """Write many polls' news in one transaction (one fsync, not one per task)."""
        if not updates:
            return
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "UPDATE tasks SET server_status = ?, remaining_seconds = COALESCE(?,"
                " remaining_seconds), next_poll_at = ?, poll_errors = 0, state = COALESCE(?,"
                " state), error = COALESCE(?, error), updated_at = ? WHERE task_id = ?",
                [
                    (
                        u.server_status,
                        u.remaining_seconds,
                        u.next_poll_at,
                        u.state,
                        u.error,
                        now,
                        u.task_id,
                    )
                    for u in updates
                ],
            )

    def task(self, task_id: str) -> TaskRow | None:
        row = self._db.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)
        ).fetchone()
        return _task_row(row) if row else None

    def tasks_in_state(self, *states: TaskState) -> list[TaskRow]:
        rows = self._db.execute(
            f"SELECT {_TASK_COLUMNS} FROM tasks WHERE state IN ({_placeholders(states)})"
            " ORDER BY created_at",
            [str(s) for s in states],
        ).fetchall()
        return [_task_row(r) for r in rows]

    def tasks_to_poll(self) -> Iterator[tuple[str, str, str | None, float | None, float]]:
        """``(task_id, tenant, server_status, next_poll_at, updated_at)`` of submitted tasks.

        Row by row and only what the poller needs: with 20,000 tasks in flight,
        whole TaskRows all at once would hold 10 MB more at start-up.
        """
        rows = self._db.execute(
            "SELECT task_id, tenant, server_status, next_poll_at, updated_at FROM tasks"
            " WHERE state = ?",
            (TaskState.SUBMITTED,),
        )
        for r in rows:
            yield r[0], sys.intern(r[1]), r[2], r[3], r[4]

    # --- files -------------------------------------------------------------

    def files_of_task(self, task_id: str) -> list[FileRow]:
        rows = (
            tuple_cursor(self._db)
            .execute(
                f"SELECT {_FILE_COLUMNS} FROM files WHERE task_id = ? ORDER BY meeting_index, id",
                (task_id,),
            )
            .fetchall()
        )
        return [_file_row(r) for r in rows]

    def require_file(self, file_id: int) -> FileRow:
        """The row of a file the caller holds; its absence is a bug, not a state."""
        row = self.file(file_id)
        if row is None:
            raise LookupError(f"file row {file_id} vanished from the journal")
        return row

    def file(self, file_id: int) -> FileRow | None:
        row = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)
        ).fetchone()
        return _file_row(row) if row else None

    def active_paths(self) -> Iterator[tuple[str, str]]:
        """(tenant, rel_path) of every file the daemon holds; the watcher must not take them."""
        states = [str(s) for s in ACTIVE_FILE_STATES]
        rows = self._db.execute(
            f"SELECT tenant, rel_path FROM files WHERE state IN ({_placeholders(states)})",
            states,
        )
        # Row by row, one tenant string shared by all: with 400,000 files in flight, a
        # list of the pairs and a tenant copy per row would hold 60 MB more at start-up.
        for tenant, rel_path in rows:
            yield sys.intern(tenant), rel_path

    def files_in_state(self, *states: FileState) -> list[FileRow]:
        rows = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE state IN ({_placeholders(states)})"
            " ORDER BY id",
            [str(s) for s in states],
        ).fetchall()
        return [_file_row(r) for r in rows]

    def name_reserved(
        self, tenant: str, *, out_stem: str | None = None, dest: tuple[str, str] | None = None
    ) -> bool:
        """Whether another file already holds this transcript stem or destination name."""
        # One statement for both (a NULL matches nothing): each statement hands the GIL
        # to the worker threads and waits to win it back, on the event loop's thread.
        dest_kind, dest_rel = dest if dest is not None else (None, None)
        row = self._db.execute(
            "SELECT EXISTS(SELECT 1 FROM files WHERE tenant = ?1 AND out_stem = ?2)"
            " OR EXISTS(SELECT 1 FROM files WHERE tenant = ?1 AND dest_kind = ?3"
            " AND dest_rel = ?4)",
            (tenant, out_stem, dest_kind, dest_rel),
        ).fetchone()
        return bool(row[0])

    def names_reserved(
        self, tenant: str, out_stems: Collection[str], dest_kind: str, dest_rels: Collection[str]
    ) -> tuple[set[str], set[str]]:
        """``name_reserved`` for many names in one query: (stems held, destinations held)."""
        # Two lookups in the name indexes; an OR of the two would scan the tenant's files.
        rows = tuple_cursor(self._db).execute(
            "SELECT 0, out_stem FROM files"
            " WHERE tenant = ?1 AND out_stem IN (SELECT value FROM json_each(?2))"
            " UNION ALL SELECT 1, dest_rel FROM files WHERE tenant = ?1 AND dest_kind = ?3"
            " AND dest_rel IN (SELECT value FROM json_each(?4))",
            (tenant, _json_array(out_stems), dest_kind, _json_array(dest_rels)),
        )
        held: tuple[set[str], set[str]] = (set(), set())
        for which, name in rows:
            held[which].add(name)
        return held

    def reserve_names(
        self,
        file_id: int,
        state: FileState,
        *,
        out_stem: str | None,
        dest_kind: str,
        dest_rel: str,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Record where a file's outputs will go before anything is written there.

        Replaying an export after a crash then writes to the same names instead
        of choosing new ones, so a file never ends with two sets of transcripts.
        """
        with self._transaction() as db:
            db.execute(
                "UPDATE files SET state = ?, out_stem = ?, dest_kind = ?, dest_rel = ?,"
                " error = COALESCE(?, error), updated_at = ? WHERE id = ?",
                (
                    state,
                    out_stem,
                    dest_kind,
                    dest_rel,
                    json.dumps(error) if error else None,
                    time.time(),
                    file_id,
                ),
            )

    def insert_failing(self, new: NewFile, *, dest_rel: str, error: dict[str, Any]) -> FileRow:
        """A file that failed before joining any task (stage validate)."""
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO files(tenant, rel_path, size, mtime_ns, inode, sha256, audio,"
                " state, dest_kind, dest_rel, error, taken_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'failed', ?, ?, ?, ?)",
                (
                    new.tenant,
                    new.rel_path,
                    new.size,
                    new.mtime_ns,
                    new.inode,
                    new.sha256,
                    json.dumps(new.audio) if new.audio else None,
                    FileState.FAILING,
                    dest_rel,
                    json.dumps(error),
                    now,
                    now,
                ),
            )
            file_id = cursor.lastrowid
        assert file_id is not None
        row = self.file(file_id)
        assert row is not None
        return row

    def set_file_state(self, file_id: int, state: FileState) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE files SET state = ?, updated_at = ? WHERE id = ?",
                (state, time.time(), file_id),
            )

    def set_files_state(self, file_ids: Sequence[int], state: FileState) -> None:
        """``set_file_state`` for several files in one transaction: one fsync, not one each.

        One statement, not one per file: every statement gives the GIL up (to the
        worker threads writing files) and has to win it back, which made a 20-file
        group's update cost about three times the CPU (docs/benchmarks.md).
        """
        if not file_ids:
            return
        with self._transaction() as db:
            db.execute(
                "UPDATE files SET state = ?, updated_at = ?"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (state, time.time(), _json_array(file_ids)),
            )

    def reserve_many(
        self, state: FileState, dest_kind: str, names: Sequence[tuple[int, str | None, str]]
    ) -> None:
        """``reserve_names`` for several files in one transaction.

        ``names`` holds ``(file_id, out_stem, dest_rel)``: the names each file's
        outputs and audio will have, recorded before anything is written there.
        """
        if not names:
            return
        now = time.time()
        with self._transaction() as db:
            # One statement per chunk, not per file (see ``set_files_state``); a chunk
            # stays under SQLite's oldest limit of 999 parameters.
            for start in range(0, len(names), _ROWS_PER_STATEMENT):
                chunk = names[start : start + _ROWS_PER_STATEMENT]
                stems, stem_params = _case_by_id([(file_id, stem) for file_id, stem, _ in chunk])
                dests, dest_params = _case_by_id([(file_id, dest) for file_id, _, dest in chunk])
                db.execute(
                    f"UPDATE files SET state = ?, dest_kind = ?, updated_at = ?,"
                    f" out_stem = {stems}, dest_rel = {dests}"
                    f" WHERE id IN (SELECT value FROM json_each(?))",
                    (
                        state,
                        dest_kind,
                        now,
                        *stem_params,
                        *dest_params,
                        _json_array(file_id for file_id, _, _ in chunk),
                    ),
                )

    def file_at_destination(self, tenant: str, dest_kind: str, dest_rel: str) -> FileRow | None:
        """The file holding this archive or failed-folder name, if any (one per name)."""
        row = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files"
            " WHERE tenant = ? AND dest_kind = ? AND dest_rel = ?",
            (tenant, dest_kind, dest_rel),
        ).fetchone()
        return _file_row(row) if row else None

    def path_active(self, tenant: str, rel_path: str) -> bool:
        """Whether the daemon holds a file at this inbox path (its audio may have left already)."""
        states = [str(s) for s in ACTIVE_FILE_STATES]
        row = self._db.execute(
            f"SELECT 1 FROM files WHERE tenant = ? AND rel_path = ?"
            f" AND state IN ({_placeholders(states)})",
            (tenant, rel_path, *states),
        ).fetchone()
        return row is not None

    def forget_failure(self, file_id: int) -> bool:
        """Close a failed file's row as retried and free its failed-folder name for reuse.

        Only a row still in state ``failed`` changes, so a replay is harmless;
        returns whether this call changed it.
        """
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE files SET state = ?, dest_kind = NULL, dest_rel = NULL, updated_at = ?"
                " WHERE id = ? AND state = ?",
                (FileState.RETRIED, time.time(), file_id, FileState.FAILED),
            )
        return cursor.rowcount == 1

    # --- reports -----------------------------------------------------------

    def file_counts(self) -> dict[tuple[str, str], int]:
        """Number of files per (tenant, state)."""
        rows = self._db.execute(
            "SELECT tenant, state, COUNT(*) FROM files GROUP BY tenant, state"
        ).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def recent_failures(self, limit: int = 10) -> list[FileRow]:
        rows = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE state IN (?, ?)"
            " ORDER BY updated_at DESC LIMIT ?",
            (FileState.FAILED, FileState.FAILING, limit),
        ).fetchall()
        return [_file_row(r) for r in rows]

    def oldest_active_taken_at(self) -> float | None:
        states = [str(s) for s in ACTIVE_FILE_STATES]
        row = self._db.execute(
            f"SELECT MIN(taken_at) FROM files WHERE state IN ({_placeholders(states)})", states
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def oldest_active_file(self) -> FileRow | None:
        """The file that has waited longest of those still on their way through the pipeline."""
        states = [str(s) for s in ACTIVE_FILE_STATES]
        row = self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE state IN ({_placeholders(states)})"
            " ORDER BY taken_at, id LIMIT 1",
            states,
        ).fetchone()
        return _file_row(row) if row else None

    def file_counts_of_tasks(self, *states: TaskState) -> dict[str, int]:
        """Number of files per taskId (dropped ones not counted), for the tasks in ``states``."""
        rows = self._db.execute(
            "SELECT f.task_id, COUNT(*) FROM files f JOIN tasks t ON t.task_id = f.task_id"
            f" WHERE t.state IN ({_placeholders(states)}) AND f.state != ?"
            " GROUP BY f.task_id",
            [*(str(s) for s in states), FileState.DROPPED],
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def integrity_problems(self) -> list[str]:
        """Consistency checks for tests and ``status``: states that contradict each other."""
        problems = [r[0] for r in self._db.execute("PRAGMA integrity_check").fetchall()]
        problems = [p for p in problems if p != "ok"]
        orphans = self._db.execute(
            "SELECT COUNT(*) FROM files f WHERE f.task_id IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM tasks t WHERE t.task_id = f.task_id)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} file rows name a task that does not exist")
        return problems


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a journal written by an older version up to SCHEMA_VERSION, one step each."""
    version = int(db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    for target in range(version + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(MIGRATIONS.get(target, "SELECT 1"))
            db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(target),))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _check_read_only(path: Path) -> None:
    """Refuse a damaged, foreign or newer journal without writing a byte of it or of its WAL.

    A read-write connection would change what it refuses: ``journal_mode=WAL``
    rewrites the header of a foreign file, and closing checkpoints the WAL
    into a damaged one (and deletes the WAL), which is what recovery needs.
    """
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise JournalError(_unopenable_message(path, exc)) from None
    try:
        _check_existing(db, path)
    except sqlite3.DatabaseError as exc:
        raise JournalError(_damaged_message(path, exc)) from None
    finally:
        db.close()


def _unopenable_message(path: Path, exc: BaseException) -> str:
    return (
        f"cannot open the journal {path} ({exc}): it must be a regular file that this user "
        "can read and write, in a folder it can write. Check what is at that path, its owner "
        "and permissions, and that STATE_DIR is the right folder; nothing was changed"
    )


def _check_existing(db: sqlite3.Connection, path: Path) -> None:
    result = db.execute("PRAGMA quick_check").fetchone()
    if result is None or result[0] != "ok":
        raise sqlite3.DatabaseError(str(result[0]) if result else "quick_check gave nothing")
    _check_schema(db, path)


def _being_created(db: sqlite3.Connection) -> bool:
    """Whether :meth:`Journal.open` is creating this file right now: no tables, or no version.

    Its tables and its version row are two commits; a reader that comes in
    between sees a journal with nothing in it yet, not a foreign database.
    """
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not names:
        return True
    if "meta" not in names:
        return False
    version = db.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone()
    return version is None


def _check_schema(db: sqlite3.Connection, path: Path) -> None:
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"meta", "tasks", "files"} <= names:
        raise JournalError(
            f"{path} is not an hrec-ingest journal (tables {sorted(names)}); "
            "point STATE_DIR at the right folder"
        )
    version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if version is None or int(version[0]) > SCHEMA_VERSION:
        raise JournalError(
            f"{path} was written by a newer hrec-ingest (schema {version[0] if version else '?'}"
            f", this one reads {SCHEMA_VERSION}); upgrade hrec-ingest"
        )


def _damaged_message(path: Path, exc: sqlite3.DatabaseError) -> str:
    return (
        f"the journal {path} is damaged or unreadable ({exc}). It is not replaced, because "
        "starting from an empty journal would send files in flight twice. Stop every "
        "hrec-ingest using it, keep a copy, then try `sqlite3 journal.sqlite3 .recover | "
        "sqlite3 recovered.sqlite3` and move recovered.sqlite3 into its place; or, if no task "
        "is in flight, move the file away to start afresh"
    )
