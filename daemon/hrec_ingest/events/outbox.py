"""The outbox: the journal's ``events`` table, read and settled by the event consumers.

Why it is built this way:

- **Events are written by SQLite triggers** (``journal/schema.py``) on
  ``files.state`` becoming ``archived``/``failed`` and ``tasks.state`` becoming
  ``submitted``/``done``/``error``. A trigger runs inside the transaction that
  changes the state, so the event and the change commit together or not at
  all: a crash can neither lose an event nor invent one, and no pipeline code
  has to remember to emit anything. Each row carries a random ``event_id``
  (receivers de-duplicate on it: delivery is at-least-once) and ``facts``, a
  JSON snapshot of the row at that instant, so a later change to the row
  (``hrec-ingest retry`` forgetting a failure) does not change the event.
- **Two consumers share one row.** ``manifest_due`` is set for file events
  (the daily manifest, always written) and ``webhook_due`` for every event
  while the daemon has a ``WEBHOOK_URL`` (a flag in ``meta`` that ``run`` sets
  at start; without a receiver no webhook work is recorded at all). A row is
  deleted once both are settled, so the table holds only work still to do.
- **The webhook body is built once**, before the first delivery, and stored in
  the row: every retry sends the same bytes, hence the same signature.

Every method is one short transaction on the journal's connection, called
from the event loop like the journal's own methods.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from hrec_ingest.sqlite_tx import column_json, immediate, tuple_cursor

FILE_EXPORTED = "file.exported"
FILE_FAILED = "file.failed"
TASK_SUBMITTED = "task.submitted"
TASK_DONE = "task.done"
TASK_ERROR = "task.error"
WEBHOOK_FLAG = "webhook_events"

_COLUMNS = "id, event_id, kind, tenant, task_id, file_id, facts, at, attempts, body"


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded state change: what happened, to what, when, and the row's facts then."""

    id: int
    event_id: str
    kind: str
    tenant: str
    task_id: str | None
    file_id: int | None
    facts: dict[str, Any]
    at: float
    attempts: int = 0
    body: bytes | None = None


def _event(row: Sequence[Any]) -> Event:
    # Positional and read by orjson: the manifest writer reads an event per file.
    id_, event_id, kind, tenant, task_id, file_id, facts, at, attempts, body = row
    if isinstance(body, str):
        body = body.encode()
    return Event(
        id_, event_id, kind, tenant, task_id, file_id, column_json(facts), at, attempts, body
    )


def _marks(ids: Sequence[int]) -> str:
    return ", ".join("?" for _ in ids)


class Outbox:
    """Reads and settles the ``events`` table for the manifest writer and the webhook sender."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db)

    def _delete_settled(self, db: sqlite3.Connection, ids: Sequence[int]) -> None:
        db.execute(
            f"DELETE FROM events WHERE id IN ({_marks(ids)})"
            " AND manifest_due = 0 AND webhook_due = 0",
            list(ids),
        )

    def enable_webhook(self, enabled: bool) -> int:
        """Say whether state changes from now on are to be POSTed; returns webhook rows dropped.

        Called by ``run`` at start. Turning webhooks off also drops the
        deliveries still pending from an earlier run that had a receiver:
        without a URL there is nowhere to send them, and keeping them would
        surprise whoever configures a receiver months later.
        """
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (WEBHOOK_FLAG, "on" if enabled else "off"),
            )
            if enabled:
                return 0
            dropped = db.execute("UPDATE events SET webhook_due = 0 WHERE webhook_due = 1").rowcount
            db.execute("DELETE FROM events WHERE manifest_due = 0 AND webhook_due = 0")
        return dropped

    # --- the manifest -------------------------------------------------------

    def manifest_due(self, limit: int) -> list[Event]:
        """File events whose manifest line is still to be written, oldest first."""
        rows = (
            tuple_cursor(self._db)
            .execute(
                f"SELECT {_COLUMNS} FROM events WHERE manifest_due = 1 ORDER BY id LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [_event(r) for r in rows]

    def manifest_written(self, ids: Sequence[int]) -> None:
        """Note that these events' manifest lines are durable on disk."""
        if not ids:
            return
        with self._transaction() as db:
            db.execute(f"UPDATE events SET manifest_due = 0 WHERE id IN ({_marks(ids)})", list(ids))
            self._delete_settled(db, ids)

    # --- the webhook --------------------------------------------------------

    def webhook_due(self, now: float, limit: int) -> list[Event]:
        """Events to POST whose next attempt is due at ``now`` (epoch seconds), oldest first."""
        rows = (
            tuple_cursor(self._db)
            .execute(
                f"SELECT {_COLUMNS} FROM events WHERE webhook_due = 1 AND next_attempt_at <= ?"
                " ORDER BY id LIMIT ?",
                (now, limit),
            )
            .fetchall()
        )
        return [_event(r) for r in rows]

    def next_webhook_at(self) -> float | None:
        """When the earliest pending delivery is due (epoch seconds); None when none is pending."""
        row = self._db.execute(
            "SELECT MIN(next_attempt_at) FROM events WHERE webhook_due = 1"
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def store_body(self, event_id: int, body: bytes) -> bytes:
        """Keep the body of an event's first delivery; returns the body every attempt sends.

        A body stored by an earlier attempt (before a crash) wins over the
        new one, so a receiver never sees two different bodies for one event.
        """
        with self._transaction() as db:
            db.execute("UPDATE events SET body = ? WHERE id = ? AND body IS NULL", (body, event_id))
            row = db.execute("SELECT body FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            raise LookupError(f"event row {event_id} vanished from the journal")
        stored = row[0]
        return stored.encode() if isinstance(stored, str) else bytes(stored)

    def delivered(self, event_id: int) -> None:
        """The receiver accepted the event: nothing more to send."""
        self._settle_webhook(event_id, None)

    def give_up(self, event_id: int, error: str) -> None:
        """Stop trying to deliver an event (the caller has logged and counted it)."""
        self._settle_webhook(event_id, error)

    def _settle_webhook(self, event_id: int, error: str | None) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE events SET webhook_due = 0, attempts = attempts + 1,"
                " last_error = ? WHERE id = ?",
                (error, event_id),
            )
            self._delete_settled(db, [event_id])

    def retry_later(self, event_id: int, at: float, error: str) -> None:
        """Count a failed attempt and set when the next one is due (epoch seconds)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE events SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?"
                " WHERE id = ?",
                (at, error, event_id),
            )

    # --- reports ------------------------------------------------------------

    def depth(self) -> dict[str, int]:
        """Events still to be handled, by consumer (``manifest``, ``webhook``)."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(manifest_due), 0), COALESCE(SUM(webhook_due), 0) FROM events"
        ).fetchone()
        return {"manifest": int(row[0]), "webhook": int(row[1])}
