"""SQLite helpers shared by the journal and the outbox: a short write transaction, reads.

A top-level module, not part of ``journal/``: the outbox is imported by the
journal's store, so importing the journal package from the outbox would be a cycle.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run the block in ``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception.

    IMMEDIATE takes the write lock at the start, so a concurrent writer (a
    command beside the daemon) waits on busy_timeout instead of failing
    half-way through with SQLITE_BUSY.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def tuple_cursor(db: sqlite3.Connection) -> sqlite3.Cursor:
    """A cursor whose rows are plain tuples, for reads made for every file."""
    cursor = db.cursor()
    cursor.row_factory = None
    return cursor


def column_json(text: str | None) -> Any:
    """A JSON column's value, None when empty: orjson, the stdlib for what orjson refuses.

    orjson reads a row's JSON in a quarter of the stdlib's time; NaN and
    Infinity, which the stdlib and SQLite's json_object may write, it refuses.
    """
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
