"""The daily manifest: ``OUTPUT_DIR/<tenant>/manifest-YYYY-MM-DD.jsonl``, one line per file.

Every file that is exported or failed gets exactly one JSON line (see
:func:`hrec_ingest.events.documents.manifest_record`) in the manifest of the
UTC date of that event, for loading into a data warehouse. The lines come from
the outbox's file events, oldest first, in batches:

1. append the batch's lines to their files and ``fsync`` them;
2. then mark the events written in the journal.

A crash between 1 and 2 makes the next run read the same events again; their
ids are then found among the last lines of the file and skipped, so a line is
never written twice. A line torn by a crash in the middle of step 1 (no final
newline) is cut off before appending. A late event (stamped 23:59:59 and
written after midnight) still goes to the file of its own date. A new file
appears with its first lines already in it; a reader of a file being
appended to takes only lines that end with a newline.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Sequence
from pathlib import Path

import orjson
import structlog

from hrec_ingest import diskwork
from hrec_ingest.events.documents import encode, manifest_record
from hrec_ingest.events.outbox import Event, Outbox
from hrec_ingest.fsops import atomic_write
from hrec_ingest.metrics import Metrics
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.utctime import utc_date

log = structlog.get_logger(__name__)

BATCH = 100
# Enough to hold the last batch's lines (the only ones a crash can leave unmarked).
TAIL_BYTES = 1 << 20
RETRY_SECONDS = 30.0


def manifest_path(output_dir: Path, tenant: str, epoch: float) -> Path:
    """Where the line of an event at ``epoch`` (seconds) belongs."""
    return _manifest_of_day(output_dir, tenant, utc_date(epoch))


@functools.lru_cache(maxsize=64)
def _manifest_of_day(output_dir: Path, tenant: str, day: str) -> Path:
    return output_dir / tenant / f"manifest-{day}.jsonl"


def _ids_in(tail: bytes, last: int = BATCH) -> set[str]:
    """The ids of the ``last`` lines of ``tail``.

    Only the previous batch's lines can be in the file unmarked (a batch is
    appended only after the one before it was marked), so parsing every line
    of the tail would be wasted: with the tail full it cost 7% of the
    daemon's CPU in the ``zero`` benchmark.
    """
    ids = set()
    for line in tail.rsplit(b"\n", last + 1)[-(last + 1) :]:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # the cut first line of the tail, or something a person added
        if isinstance(record, dict) and isinstance(record.get("id"), str):
            ids.add(record["id"])
    return ids


def append_once(path: Path, lines: Sequence[tuple[str, bytes]]) -> int:
    """Append each ``(event_id, json_line)`` whose id is not among the file's last lines.

    Returns how many lines were written. A new file appears whole, with its
    first lines (written beside it and renamed), so a reader never sees it
    empty; an existing one is appended to. Either way the data is
    ``fsync``-ed before returning. Blocking: call it through ``diskwork.in_thread``.
    """
    if not path.exists():
        atomic_write(path, b"".join(line + b"\n" for _, line in lines))
        return len(lines)
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        size = _drop_torn_line(fd)
        tail = os.pread(fd, min(size, TAIL_BYTES), max(0, size - TAIL_BYTES))
        seen = _ids_in(tail)
        new = [line for event_id, line in lines if event_id not in seen]
        _write_at(fd, b"".join(line + b"\n" for line in new), size)
        diskwork.fsync(fd)
    finally:
        os.close(fd)
    return len(new)


def _drop_torn_line(fd: int) -> int:
    """Cut a last line left without its newline by a crash; returns the file's size then.

    Its event was not marked written, so its line is written again whole.
    """
    size = os.fstat(fd).st_size
    start = max(0, size - TAIL_BYTES)
    tail = os.pread(fd, size - start, start)
    if not tail or tail.endswith(b"\n"):
        return size
    cut = tail.rfind(b"\n")
    if cut < 0 and start > 0:
        # A line longer than the tail, without end: not ours to cut. Start on a new line.
        _write_at(fd, b"\n", size)
        return size + 1
    os.ftruncate(fd, start + cut + 1)
    return start + cut + 1


def _write_at(fd: int, data: bytes, offset: int) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)


class ManifestWriter:
    """Writes the manifest lines of the outbox's file events until cancelled."""

    def __init__(
        self,
        outbox: Outbox,
        folders: Folders,
        *,
        metrics: Metrics | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self.outbox = outbox
        self.folders = folders
        self._metrics = metrics
        self.poll_seconds = poll_seconds

    async def run(self) -> None:
        """Write due lines for ever; look again every ``poll_seconds`` when all is written."""
        while True:
            try:
                written = await self.write_due()
            except OSError as exc:
                # A full or read-only disk: the events wait in the journal until it is fixed.
                log.error(
                    "manifest.write_failed",
                    error=str(exc),
                    retry_in=RETRY_SECONDS,
                    hint="free space or fix permissions in OUTPUT_DIR; lines are kept until then",
                )
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if written < BATCH:
                await asyncio.sleep(self.poll_seconds)

    async def write_due(self) -> int:
        """Write one batch of due lines; returns how many events it handled."""
        events = self.outbox.manifest_due(BATCH)
        if not events:
            return 0
        groups: dict[Path, list[tuple[str, bytes]]] = {}
        for event in events:
            path = manifest_path(self.folders.output_dir, event.tenant, event.at)
            line = encode(manifest_record(event, self.folders))
            groups.setdefault(path, []).append((event.event_id, line))
        written = await diskwork.in_thread(_append_groups, groups)
        self.outbox.manifest_written([e.id for e in events])
        self._count(events, written)
        return len(events)

    def _count(self, events: Sequence[Event], written: int) -> None:
        log.debug("manifest.written", lines=written, events=len(events))
        if self._metrics is None:
            return
        for event in events:
            outcome = "exported" if event.kind.endswith("exported") else "failed"
            self._metrics.file_processed(event.tenant, outcome)


def _append_groups(groups: dict[Path, list[tuple[str, bytes]]]) -> int:
    return sum(append_once(path, lines) for path, lines in groups.items())
