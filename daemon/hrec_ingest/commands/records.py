"""What ``submit`` remembers of each task it sends, so that ``fetch`` can name its transcripts.

One small JSON file per task, ``STATE_DIR/submit/<taskId>.json``: the tenant,
the transcript JSON's ``task`` block and, per meeting, its ``source`` block
(the audio file's name, size, sha256, format...). It is written before the
upload, so that a submit interrupted at any point can still be fetched under
the audio files' names, and again once the server accepted the task (with
``submittedAt``). Everything in it comes from this machine; nothing the server
returned is stored, and a record that does not have the expected shape is
ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hrec_ingest.fsops import ensure_dir, file_mode, fsync_dir

RECORDS_FOLDER = "submit"
RECORD_VERSION = 1


class RecordError(Exception):
    """A record exists but cannot be used; the message says why."""


@dataclass(frozen=True, slots=True)
class SubmitRecord:
    """A task as ``submit`` sent it: tenant, ``task`` block, ``source`` block per meeting index."""

    task_id: str
    tenant: str
    task: Mapping[str, Any]
    sources: Mapping[int, Mapping[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The record as stored."""
        return {
            "version": RECORD_VERSION,
            "taskId": self.task_id,
            "tenant": self.tenant,
            "task": dict(self.task),
            "meetings": [
                {"index": index, "source": dict(source)}
                for index, source in sorted(self.sources.items())
            ],
        }


def record_path(state_dir: Path, task_id: str) -> Path:
    """Where the record of ``task_id`` (a validated taskId) lives."""
    return state_dir / RECORDS_FOLDER / f"{task_id}.json"


def save_record(state_dir: Path, record: SubmitRecord) -> None:
    """Write (or replace) the record of a task, durably and all at once."""
    path = record_path(state_dir, record.task_id)
    ensure_dir(path.parent)
    data = json.dumps(record.to_json(), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    # Unlike transcripts, a record is replaced on purpose (submittedAt is added later).
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".hrec.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(stream.fileno(), file_mode())
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def forget_record(state_dir: Path, task_id: str) -> None:
    """Remove the record of a task the server certainly never accepted."""
    record_path(state_dir, task_id).unlink(missing_ok=True)


def load_record(state_dir: Path, task_id: str) -> SubmitRecord | None:
    """The record of ``task_id``, None if there is none; RecordError if it is unusable."""
    path = record_path(state_dir, task_id)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RecordError(f"{path} is not JSON: {exc}") from None
    return _parse(data, task_id, path)


def _parse(data: Any, task_id: str, path: Path) -> SubmitRecord:
    if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
        raise RecordError(f"{path} is not a version {RECORD_VERSION} submit record")
    tenant, task, meetings = data.get("tenant"), data.get("task"), data.get("meetings")
    if data.get("taskId") != task_id or not isinstance(tenant, str):
        raise RecordError(f"{path} is the record of another task")
    if not isinstance(task, dict) or not isinstance(meetings, list):
        raise RecordError(f"{path} lacks its task or meetings")
    sources: dict[int, dict[str, Any]] = {}
    for item in meetings:
        index = item.get("index") if isinstance(item, dict) else None
        source = item.get("source") if isinstance(item, dict) else None
        if (
            not isinstance(index, int)
            or index < 1
            or not isinstance(source, dict)
            or not isinstance(source.get("path"), str)
        ):
            raise RecordError(f"{path} holds a meeting without index or source path")
        sources[index] = source
    return SubmitRecord(task_id, tenant, task, sources)
