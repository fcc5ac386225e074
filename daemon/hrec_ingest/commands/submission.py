"""One run of ``submit``: check the folder, upload it as one task, wait, export, report.

The task is built as the daemon builds a batch: its taskId is chosen here, so
that a retried upload can never create a second task, and its metadata,
upload names and task name come from the same functions. The folder is the
user's: its files are read, never moved. The transcripts are written to
OUTPUT_DIR/<tenant>/ under the names the daemon would give them, and a record
in STATE_DIR lets ``fetch`` use the same names later.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hrec_ingest.commands.common import EXIT_BAD_CONFIG, EXIT_FATAL, EXIT_OK, EXIT_SOME_FAILED
from hrec_ingest.commands.export import (
    ExportJob,
    MeetingOutcome,
    MeetingPlan,
    daemon_namer,
    export_meetings,
    outcome_line,
)
from hrec_ingest.commands.follow import poll_timing, wait_until_finished
from hrec_ingest.commands.inputs import AudioFile, FolderContents, examine_folder
from hrec_ingest.commands.known import stem_of
from hrec_ingest.commands.oneshot import (
    LoginFailed,
    cancel_on_sigterm,
    describe_failure,
    fetch_hint,
    is_task_id,
    printable,
    server_link,
)
from hrec_ingest.commands.progress import ProgressDisplay, UploadMeter, WaitMeter, human_bytes
from hrec_ingest.commands.records import SubmitRecord, forget_record, save_record
from hrec_ingest.commands.tenant_link import TenantLink
from hrec_ingest.config import Settings, TenantSettings
from hrec_ingest.journal import Journal, JournalError, NewFile
from hrec_ingest.miaop import ApiError, LocalFileError, MiaopError, TlsConfigError, UploadPart
from hrec_ingest.miaop.models import TaskMetadata, TaskMetadataResponse
from hrec_ingest.pipeline.intake import audio_facts
from hrec_ingest.pipeline.layout import ARCHIVE
from hrec_ingest.pipeline.outcomes import source_doc
from hrec_ingest.pipeline.taskmeta import (
    new_task_id,
    render_task_name,
    task_metadata,
    upload_names,
)
from hrec_ingest.service import folders_of
from hrec_ingest.utctime import iso_seconds


@dataclass
class RunState:
    """How far a submit got, for the message an interruption leaves."""

    task_id: str | None = None  # chosen, and being uploaded
    accepted: bool = False  # the server has the task


@dataclass(frozen=True, slots=True)
class Prepared:
    """The task to send: its metadata, the files in meeting order, and their export plans."""

    task_id: str
    metadata: TaskMetadata
    parts: list[UploadPart]
    plans: list[MeetingPlan]
    total_bytes: int


class FatalError(Exception):
    """The submit cannot go on; the message says why (and, once a task exists, how to resume)."""


class Submission:
    """One run of ``submit``, from the folder to the exit status."""

    def __init__(
        self,
        settings: Settings,
        tenant: TenantSettings,
        folder: Path,
        display: ProgressDisplay,
        state: RunState,
        resume_hint: tuple[Path | None, str | None],
    ) -> None:
        self.settings = settings
        self.tenant = tenant
        self.folder = folder
        self.display = display
        self.state = state
        self.resume_hint = resume_hint
        self.task_block: dict[str, Any] = {}

    async def run(self) -> int:
        """Check, upload, wait, export; return the exit status."""
        cancel_on_sigterm()
        try:
            contents = await self._check()
            prepared = self._prepare(contents.audio)
            async with server_link(self.settings, self.tenant) as link:
                task_id = await self._upload(link, prepared)
                final = await self._wait(link, task_id)
                exported = await self._export(link, task_id, final.taskStatus, prepared.plans)
        except TlsConfigError as exc:
            self._say(f"configuration: {exc}")
            return EXIT_BAD_CONFIG
        except (FatalError, LoginFailed) as exc:
            self._say(str(exc))
            return EXIT_FATAL
        return self._report(contents, exported)

    def _say(self, message: str) -> None:
        self.display.note(f"hrec-ingest: {printable(message)}")

    def _fetch_later(self, task_id: str) -> str:
        config_file, tenant = self.resume_hint
        return f"Export it later with: {fetch_hint(task_id, config_file, tenant)}"

    async def _check(self) -> FolderContents:
        self.display.phase(f"checking the files in {self.folder}")
        stop = threading.Event()

        def checked(n: int, total: int) -> None:
            self.display.update(f"checked {n} of {total} files in {self.folder}")

        try:
            contents = await asyncio.to_thread(
                examine_folder, self.folder, self.settings.batch_max_bytes, checked, stop
            )
        except asyncio.CancelledError:
            stop.set()  # the thread stops after the file it is reading
            raise
        except OSError as exc:
            raise FatalError(f"cannot read {self.folder}: {exc.strerror or exc}") from None
        passed = len(contents.skipped)
        if passed or contents.subfolders:
            self.display.note(
                f"not looked at in {self.folder}: {passed} hidden or partial file(s), "
                f"{len(contents.subfolders)} sub-folder(s) (sub-folders are not searched)"
            )
        for refused in contents.refused:
            self.display.note(
                f"not sent: {printable(refused.name)}: {refused.error}: {printable(refused.reason)}"
            )
        if not contents.audio:
            what = "it holds no files" if not contents.refused else "none of its files is audio"
            raise FatalError(f"nothing to send in {self.folder}: {what}")
        return contents

    def _prepare(self, audio: list[AudioFile]) -> Prepared:
        tenant = self.tenant
        task_id = new_task_id()
        names = upload_names([f.name for f in audio])
        now = datetime.now(UTC)
        task_name = render_task_name(
            tenant.task_name,
            tenant=tenant.name,
            when=now,
            first_file=audio[0].name,
            count=len(audio),
        )
        metadata = task_metadata(
            task_id=task_id,
            tenant=tenant.name,
            task_name=task_name,
            language=tenant.base_language,
            file_names=names,
            supervisor_email=tenant.supervisor_email,
            supervisor_name=tenant.supervisor_name,
            generic_additional_info=tenant.generic_additional_info,
            now=now,
        )
        parts = [UploadPart(f.path, name, f.size) for f, name in zip(audio, names, strict=True)]
        plans = [
            MeetingPlan(index, stem_of(f.name), f.name, _source(tenant.name, f), f.name)
            for index, f in enumerate(audio, start=1)
        ]
        self.task_block = {
            "taskId": task_id,
            "taskName": task_name,
            "baseLanguage": tenant.base_language,
            "submittedAt": None,
        }
        total = sum(f.size for f in audio)
        return Prepared(task_id, metadata, parts, plans, total)

    def _keep_record(self, task_id: str, plans: list[MeetingPlan]) -> None:
        record = SubmitRecord(
            task_id,
            self.tenant.name,
            {**self.task_block, "taskId": task_id},
            {plan.index: plan.source or {} for plan in plans},
        )
        try:
            save_record(self.settings.state_dir, record)
        except OSError as exc:
            self.display.note(
                f"warning: cannot keep a record of task {task_id} in STATE_DIR ({exc}); "
                "a later fetch will name its transcripts after the taskId"
            )

    async def _upload(self, link: TenantLink, prepared: Prepared) -> str:
        task_id = prepared.task_id
        self._keep_record(task_id, prepared.plans)
        self.state.task_id = task_id
        meter = UploadMeter(self.display, prepared.total_bytes)
        self.display.phase(
            f"uploading {len(prepared.parts)} file(s), {human_bytes(prepared.total_bytes)}, "
            f"as task {task_id}"
        )
        try:
            accepted = await link.client.submit_task(
                prepared.metadata, prepared.parts, on_progress=meter
            )
        except MiaopError as exc:
            raise self._upload_failed(exc, link, task_id) from exc
        self.display.note(meter.summary())
        if accepted != task_id:
            if not is_task_id(accepted):
                raise FatalError(f"the server answered with an unusable taskId {accepted!r}")
            forget_record(self.settings.state_dir, task_id)
        self.state.task_id, self.state.accepted = accepted, True
        # The one line on standard output, as soon as it is true: scripts capture it.
        click.echo(accepted)
        self.task_block.update(taskId=accepted, submittedAt=iso_seconds(time.time()))
        self._keep_record(accepted, prepared.plans)
        return accepted

    def _upload_failed(self, exc: MiaopError, link: TenantLink, task_id: str) -> FatalError:
        reason = describe_failure(exc, link)
        refused = isinstance(exc, ApiError) and not exc.retryable
        if refused or isinstance(exc, LocalFileError) or exc.request_rejected:
            forget_record(self.settings.state_dir, task_id)
            return FatalError(f"task {task_id} was not created: {reason}")
        return FatalError(
            f"the upload of task {task_id} failed: {reason}. The server may still have "
            f"received it. {self._fetch_later(task_id)}"
        )

    async def _wait(self, link: TenantLink, task_id: str) -> TaskMetadataResponse:
        meter = WaitMeter(self.display, task_id)
        try:
            final = await wait_until_finished(
                link.client,
                task_id,
                poll_timing(self.settings),
                give_up_after=self.settings.http_retry_max_seconds,
                on_status=lambda answer: meter(answer.taskStatus, answer.sttRemainingTime),
                on_trouble=lambda reason, delay: meter.trouble(printable(reason), delay),
            )
        except MiaopError as exc:
            raise FatalError(
                f"cannot follow task {task_id}: {describe_failure(exc, link)}. "
                f"{self._fetch_later(task_id)}"
            ) from exc
        return final

    async def _export(
        self, link: TenantLink, task_id: str, status: str, plans: list[MeetingPlan]
    ) -> tuple[ExportJob, list[MeetingOutcome]]:
        target = self.settings.output_dir / self.tenant.name
        job = ExportJob(
            task_id,
            status,
            dict(self.task_block),
            self.tenant.name,
            target,
            self.settings.export_formats,
        )
        self.display.phase(f"exporting {len(plans)} transcript(s) to {target}")
        journal = self._journal()

        def reserved(stem: str, dest: str) -> bool:
            return journal is not None and journal.name_reserved(
                self.tenant.name, out_stem=stem, dest=(ARCHIVE, dest)
            )

        try:
            namer = daemon_namer(folders_of(self.settings), self.tenant.name, task_id, reserved)
            outcomes = await export_meetings(
                link.client,
                job,
                plans,
                namer,
                lambda n, total: self.display.update(f"exported {n} of {total}"),
            )
        except MiaopError as exc:
            raise FatalError(
                f"cannot export task {task_id}: {describe_failure(exc, link)}. "
                f"{self._fetch_later(task_id)}"
            ) from exc
        except OSError as exc:
            raise FatalError(
                f"cannot write the transcripts of task {task_id} to {target}: {exc}. "
                f"{self._fetch_later(task_id)}"
            ) from exc
        finally:
            if journal is not None:
                journal.close()
        return job, outcomes

    def _journal(self) -> Journal | None:
        """The daemon's journal, read only: names it has reserved are not taken from it."""
        try:
            return Journal.open_read_only(self.settings.state_dir)
        except JournalError as exc:
            self.display.note(f"warning: {exc}; names the daemon reserved are not known")
            return None

    def _report(
        self, contents: FolderContents, exported: tuple[ExportJob, list[MeetingOutcome]]
    ) -> int:
        job, outcomes = exported
        failed = len(contents.refused) + sum(1 for o in outcomes if o.failure is not None)
        total = len(contents.audio) + len(contents.refused)
        summary = f"task {job.task_id}: {total - failed} of {total} file(s) transcribed"
        self.display.note(summary + (f", {failed} failed" if failed else ""))
        for outcome in outcomes:
            self.display.note(printable(outcome_line(outcome, job)))
        for refused in contents.refused:
            self.display.note(
                f"  failed  {printable(refused.name)}: {refused.error}: "
                f"{printable(refused.reason)} (not sent)"
            )
        return EXIT_SOME_FAILED if failed else EXIT_OK


def _source(tenant: str, found: AudioFile) -> dict[str, Any]:
    """The transcript JSON's ``source`` block, exactly as the daemon fills it."""
    new = NewFile(
        tenant,
        found.name,
        found.size,
        found.mtime_ns,
        found.inode,
        found.sha256,
        audio_facts(found.audio),
    )
    return source_doc(new)
