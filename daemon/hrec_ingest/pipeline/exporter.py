"""Exporter: for each finished task, every meeting's transcripts written, then its audio moved.

Per file the order is fixed and each step is safe to replay after a crash:
names reserved in the journal, transcript files written atomically, journal
``exported``, audio moved to ARCHIVE_DIR, journal ``archived``. A group of a
task's files takes each step together (one transaction, one thread hop), which
is what keeps the daemon's CPU per file low (docs/benchmarks.md). A meeting in
status ``error`` (or a task in status ``error``) sends its file to FAILED_DIR
with the server's errorInfo; its batch-mates are exported as usual. A write
the disk refuses (full, read-only) leaves the audio in the inbox and is tried
again later: it is never a reason to fail a file.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog

from hrec_ingest.failpoints import failpoint
from hrec_ingest.fsops import sweep_temporaries
from hrec_ingest.journal import FileRow, FileState, Journal, TaskRow, TaskState
from hrec_ingest.logs import lines_together
from hrec_ingest.miaop import MiaopClient, TranscriptionResult
from hrec_ingest.miaop.errors import MiaopError, NotFoundError, UnexpectedResponseError
from hrec_ingest.miaop.models import Meeting, TaskStatus, meeting_id
from hrec_ingest.pipeline.delays import DelayQueue
from hrec_ingest.pipeline.exportnames import choose_group_names
from hrec_ingest.pipeline.layout import ARCHIVE, Folders
from hrec_ingest.pipeline.outcomes import (
    Outcomes,
    error_doc,
    source_doc,
    task_doc,
    transcript_doc,
)
from hrec_ingest.pipeline.outputs import export_groups, move_audio, write_outputs

log = structlog.get_logger(__name__)

# A transcription the server keeps sending malformed is given up after this
# many tries, so the file gets a clear outcome.
MAX_BAD_TRANSCRIPTS = 3
WORKERS = 4
REPLAY_FAILURES_SECONDS = 60.0
DISK_LOG_EVERY_SECONDS = 60.0


class _RetryLater(Exception):
    pass


@dataclass(frozen=True, slots=True)
class ExportTiming:
    retry_base: float
    retry_cap: float


def transcript_document(
    row: FileRow, task: TaskRow, meeting: Meeting, raw_paragraphs: Sequence[Any]
) -> dict[str, Any]:
    """The ``<stem>.json`` document of interface.md section 5."""
    # The id the daemon asked for ("<index>.<taskId>"), not whatever the answer holds.
    index = row.meeting_index
    mid = meeting.meetingId if index is None else meeting_id(index, task.task_id)
    return transcript_doc(source_doc(row), task_doc(task), mid, meeting, raw_paragraphs)


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A file whose meeting is done and whose transcription has arrived."""

    row: FileRow
    meeting: Meeting
    transcription: TranscriptionResult


class Exporter:
    """Finished task ids in; transcripts, archived audio and failed files out."""

    def __init__(
        self,
        journal: Journal,
        clients: Mapping[str, MiaopClient],
        folders: Folders,
        outcomes: Outcomes,
        finished: asyncio.Queue[str],
        timing: ExportTiming,
    ) -> None:
        self.journal = journal
        self.clients = clients
        self.folders = folders
        self.outcomes = outcomes
        self.finished = finished
        self.timing = timing
        self.blocked_since: float | None = None  # set while the disk refuses writes
        self._work: DelayQueue[str] = DelayQueue()
        self._bad_transcripts: dict[int, int] = {}
        self._failures: dict[str, int] = {}
        self._busy: set[str] = set()
        self._last_disk_log: float | None = None
        self._created = time.time()

    async def run(self) -> None:
        await asyncio.to_thread(self._sweep_leftovers)
        for task in self.journal.tasks_in_state(TaskState.DONE, TaskState.ERROR):
            self._work.put(task.task_id)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._replay_failures_periodically())
            group.create_task(self._take_finished())
            for _ in range(WORKERS):
                group.create_task(self._worker())

    def _sweep_leftovers(self) -> None:
        """Remove the hidden temporary files a killed run left beside the outputs.

        Hidden, they are never taken for outputs, but they would pile up. Only
        those older than this run go: none of them can be a write of its own.
        """
        age = time.time() - self._created
        for folder in (self.folders.output_dir, self.folders.archive_dir, self.folders.failed_dir):
            removed = sweep_temporaries(folder, min_age_seconds=age)
            if removed:
                log.info("export.leftovers_removed", folder=str(folder), files=len(removed))

    async def _replay_failures_periodically(self) -> None:
        """Finish files left half-way to FAILED_DIR by a crash or a refused write.

        Those of a task still to export are finished with that task.
        """
        while True:
            for row in self.journal.files_in_state(FileState.FAILING):
                task = self.journal.task(row.task_id) if row.task_id else None
                if task is None or task.state not in (TaskState.DONE, TaskState.ERROR):
                    assert row.error is not None
                    try:
                        await self.outcomes.fail(row, row.error)
                    except OSError as exc:
                        self._disk_refused(exc)
            await asyncio.sleep(REPLAY_FAILURES_SECONDS)

    def _defer(self, task_id: str, reason: str) -> None:
        failures = self._failures.get(task_id, 0) + 1
        self._failures[task_id] = failures
        delay = min(self.timing.retry_cap, self.timing.retry_base * 2 ** (failures - 1))
        log.warning(
            "task.export_deferred", task_id=task_id, retry_in=round(delay, 1), reason=reason
        )
        self._work.put(task_id, delay)

    def busy(self) -> bool:
        """Whether a task is being exported right now."""
        return bool(self._busy)

    async def _take_finished(self) -> None:
        while True:
            self._work.put(await self.finished.get())

    async def _worker(self) -> None:
        while True:
            task_id = await self._work.get()
            if task_id in self._busy:
                continue  # queued twice (restart and poller); the worker holding it finishes it
            self._busy.add(task_id)
            try:
                await self.export_task(task_id)
                self._failures.pop(task_id, None)
            except _RetryLater as exc:
                self._defer(task_id, str(exc))
            except Exception as exc:
                # A bug met by one task must not stop the others; it is tried again later.
                log.exception("task.export_crashed", task_id=task_id)
                self._defer(task_id, repr(exc))
            finally:
                self._busy.discard(task_id)

    async def export_task(self, task_id: str) -> None:
        """Settle every file of a finished task, then mark the task exported.

        Files go in groups (``export_groups``): their meetings and transcriptions
        are fetched at once, then each durable step is taken for the whole
        group (one journal transaction, one thread hop, one sync per folder),
        in the same order as for a single file, so a crash anywhere replays.
        """
        task = self.journal.task(task_id)
        if task is None or task.state not in (TaskState.DONE, TaskState.ERROR):
            return
        client = self.clients[task.tenant]
        rows = [
            row
            for row in self.journal.files_of_task(task_id)
            if row.state
            in (FileState.SUBMITTED, FileState.EXPORTING, FileState.EXPORTED, FileState.FAILING)
        ]
        for group in export_groups(rows):
            await self._settle_group(client, task, group)
        self.journal.set_task_state(task_id, TaskState.EXPORTED)
        log.info("task.exported", tenant=task.tenant, task_id=task_id)

    async def _settle_group(self, client: MiaopClient, task: TaskRow, rows: list[FileRow]) -> None:
        fetched = await asyncio.gather(
            *(self._fetch(client, task, row) for row in rows), return_exceptions=True
        )
        exports: list[_Fetched] = []
        archive: list[FileRow] = []
        retry: BaseException | None = None
        for row, outcome in zip(rows, fetched, strict=True):
            if isinstance(outcome, BaseException):
                retry = retry or outcome  # the others are still settled first
            elif isinstance(outcome, _Fetched):
                exports.append(outcome)
            elif row.state is FileState.EXPORTED:
                archive.append(row)
        if exports:
            exports = await self._reserve(task, exports)
            archive += await self._export(task, exports)
        await self._archive(archive)
        with lines_together():
            for item in exports:
                log.info(
                    "file.exported",
                    tenant=item.row.tenant,
                    file=item.row.rel_path,
                    task_id=task.task_id,
                    transcript=f"{item.row.out_stem}.json",
                )
        if retry is not None:
            raise retry

    async def _fetch(self, client: MiaopClient, task: TaskRow, row: FileRow) -> _Fetched | None:
        """A file's meeting and transcription; None when the file was settled otherwise.

        Files to fail are failed here; EXPORTED files need nothing fetched.
        """
        if row.state is FileState.FAILING:
            assert row.error is not None
            await self.outcomes.fail(row, row.error)
            return None
        if row.state is FileState.EXPORTED:
            return None
        assert row.meeting_index is not None
        mid = meeting_id(row.meeting_index, task.task_id)
        try:
            meeting = await client.get_meeting(mid)
        except NotFoundError:
            await self._fail(
                row, task, mid, "MissingMeeting", f"the server has no meeting {mid} for this file"
            )
            return None
        except MiaopError as exc:
            raise _RetryLater(str(exc)) from exc
        status = meeting.metadata.status
        if status == TaskStatus.ERROR or task.state is TaskState.ERROR:
            info = meeting.metadata.errorInfo
            what = "meeting" if status == TaskStatus.ERROR else "task"
            await self._fail(
                row,
                task,
                mid,
                info.name if info and info.name else "TaskError",
                info.message if info and info.message else f"the server ended this {what} in error",
                info.errorLevel if info and info.errorLevel else "critical",
            )
            return None
        if status != TaskStatus.DONE:
            raise _RetryLater(f"meeting {mid} is {status} although its task is done")
        try:
            # Our own id, not the one in the answer: what the server says never picks the resource.
            result = await client.get_transcription(mid)
        except UnexpectedResponseError as exc:
            tries = self._bad_transcripts.get(row.id, 0) + 1
            self._bad_transcripts[row.id] = tries
            if tries >= MAX_BAD_TRANSCRIPTS:
                await self._fail(row, task, mid, "BadTranscription", str(exc), stage="export")
                return None
            raise _RetryLater(str(exc)) from exc
        except MiaopError as exc:
            raise _RetryLater(str(exc)) from exc
        return _Fetched(row, meeting, result)

    async def _reserve(self, task: TaskRow, exports: list[_Fetched]) -> list[_Fetched]:
        """Output and archive names of the files that have none yet, in one transaction."""
        unnamed = [item for item in exports if item.row.state is FileState.SUBMITTED]
        chosen = await choose_group_names(
            self.folders, self.journal, task.task_id, [item.row for item in unnamed]
        )
        named: dict[int, _Fetched] = {}
        names: list[tuple[int, str | None, str]] = []
        for item, (out_stem, dest_rel) in zip(unnamed, chosen, strict=True):
            row = replace(
                item.row,
                state=FileState.EXPORTING,
                out_stem=out_stem,
                dest_kind=ARCHIVE,
                dest_rel=dest_rel,
            )
            named[row.id] = _Fetched(row, item.meeting, item.transcription)
            names.append((row.id, out_stem, dest_rel))
        self.journal.reserve_many(FileState.EXPORTING, ARCHIVE, names)
        return [named.get(item.row.id, item) for item in exports]

    async def _export(self, task: TaskRow, exports: list[_Fetched]) -> list[FileRow]:
        """Transcripts written, then journal ``exported``: the rows to archive."""
        documents = [
            (
                item.row,
                item.transcription.paragraphs,
                transcript_document(item.row, task, item.meeting, item.transcription.raw),
            )
            for item in exports
        ]
        try:
            await write_outputs(self.folders, documents)
        except OSError as exc:
            self._disk_refused(exc)
            raise _RetryLater(f"cannot write transcripts: {exc}") from exc
        if self.blocked_since is not None:
            blocked = round(time.monotonic() - self.blocked_since, 1)
            log.info("export.disk_writable", blocked_seconds=blocked, note="export resumed")
            self.blocked_since = None
        self.journal.set_files_state([item.row.id for item in exports], FileState.EXPORTED)
        failpoint("before_archive")
        return [item.row for item in exports]

    async def _archive(self, rows: list[FileRow]) -> None:
        """Move the audio of exported files to ARCHIVE_DIR, then close their rows."""
        if not rows:
            return
        moves = []
        for row in rows:
            assert row.dest_rel is not None
            moves.append(
                (
                    self.folders.source(row.tenant, row.rel_path),
                    self.folders.destination(ARCHIVE, row.tenant, row.dest_rel),
                )
            )
        try:
            await move_audio(moves)
        except OSError as exc:
            self._disk_refused(exc)
            raise _RetryLater(f"cannot archive audio: {exc}") from exc
        self.journal.set_files_state([row.id for row in rows], FileState.ARCHIVED)
        for row in rows:
            self.outcomes.claims.release((row.tenant, row.rel_path))

    async def _fail(
        self,
        row: FileRow,
        task: TaskRow,
        mid: str,
        name: str,
        message: str,
        level: str = "critical",
        stage: str = "process",
    ) -> None:
        doc = error_doc(
            row,
            stage=stage,
            name=name,
            message=message,
            error_level=level,
            task_id=task.task_id,
            meeting_id=mid,
            attempts=max(task.post_attempts, 1),
        )
        try:
            await self.outcomes.fail(row, doc)
        except OSError as exc:
            self._disk_refused(exc)
            raise _RetryLater(f"cannot move to FAILED_DIR: {exc}") from exc

    def _disk_refused(self, exc: OSError) -> None:
        now = time.monotonic()
        if self.blocked_since is None:
            self.blocked_since = now
        # Once a minute is enough to be seen, and a full disk must not flood the log.
        if self._last_disk_log is None or now - self._last_disk_log >= DISK_LOG_EVERY_SECONDS:
            self._last_disk_log = now
            log.error(
                "export.disk_refused",
                error=str(exc),
                hint="free space or fix permissions in OUTPUT_DIR/ARCHIVE_DIR; "
                "export resumes by itself",
            )
