"""The durable record of tasks and files (SQLite, WAL)."""

from hrec_ingest.journal.schema import (
    ACTIVE_FILE_STATES,
    IN_FLIGHT_TASK_STATES,
    FileState,
    TaskState,
)
from hrec_ingest.journal.store import (
    JOURNAL_NAME,
    FileRow,
    Journal,
    JournalError,
    NewFile,
    TaskRow,
)

__all__ = [
    "ACTIVE_FILE_STATES",
    "IN_FLIGHT_TASK_STATES",
    "JOURNAL_NAME",
    "FileRow",
    "FileState",
    "Journal",
    "JournalError",
    "NewFile",
    "TaskRow",
    "TaskState",
]
