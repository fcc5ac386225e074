"""One short write transaction on a SQLite connection, shared by the journal and the outbox.

A top-level module, not part of ``journal/``: the outbox is imported by the
journal's store, so importing the journal package from the outbox would be a cycle.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


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
