"""``hrec-ingest fetch TASK_ID``: export the results of an existing task, whoever submitted it.

The task's meetings are written with the daemon's renderers, into ``--out``
or OUTPUT_DIR/<tenant>/. When this machine sent the task (the daemon's
journal or a ``submit`` record in STATE_DIR knows it), the transcripts are
named after its audio files; otherwise ``<taskId>.<meeting index>.<fmt>``:
the server's own strings never become file names. Nothing is overwritten.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from hrec_ingest.commands.common import (
    EXIT_BAD_CONFIG,
    EXIT_FATAL,
    EXIT_OK,
    EXIT_SOME_FAILED,
    config_option,
    load_or_exit,
)
from hrec_ingest.commands.export import (
    ExportJob,
    MeetingOutcome,
    MeetingPlan,
    export_meetings,
    folder_namer,
    outcome_line,
)
from hrec_ingest.commands.follow import poll_timing, wait_until_finished
from hrec_ingest.commands.known import KnownTask, look_up
from hrec_ingest.commands.oneshot import (
    LoginFailed,
    cancel_on_sigterm,
    command_display,
    describe_failure,
    flag,
    is_task_id,
    pick_tenant,
    printable,
    require_server,
    run_interruptible,
    server_link,
)
from hrec_ingest.commands.progress import ProgressDisplay, WaitMeter, human_seconds
from hrec_ingest.commands.tenant_link import TenantLink
from hrec_ingest.config import Settings, TenantSettings
from hrec_ingest.miaop import MiaopError, NotFoundError, TlsConfigError
from hrec_ingest.miaop.models import FINAL_STATUSES, TaskMetadataResponse, meeting_id


class FatalError(Exception):
    """The fetch cannot go on; the message says why."""


def plans_for(task_id: str, listed: int, known: KnownTask | None) -> list[MeetingPlan]:
    """One plan per meeting the server lists (``listed``) or this machine sent, named after
    its audio when that is known here and ``<taskId>.<index>`` otherwise.

    ``task_id`` is the validated one the user gave: an id in the server's answer
    is never used for a name.
    """
    meetings = known.meetings if known is not None else {}
    plans = []
    for index in range(1, max(listed, max(meetings, default=0)) + 1):
        mine = meetings.get(index)
        if mine is not None:
            plans.append(MeetingPlan(index, mine.stem, mine.rel_path, mine.source, mine.rel_path))
        else:
            mid = meeting_id(index, task_id)
            plans.append(MeetingPlan(index, f"{task_id}.{index}", None, None, mid))
    return plans


def server_task_block(task_id: str, task: TaskMetadataResponse) -> dict[str, Any]:
    """The ``task`` block of a task sent from elsewhere: what the server says of it.

    ``submittedAt`` is null: only the sender knows when the server accepted it.
    """
    languages = (task.model_extra or {}).get("baseLanguages")
    language = languages[0] if isinstance(languages, list) and languages else None
    return {
        "taskId": task_id,
        "taskName": task.taskName,
        "baseLanguage": language if isinstance(language, str) else None,
        "submittedAt": None,
    }


class Fetch:
    """One run of ``fetch``, from the task id to the exit status."""

    def __init__(
        self,
        settings: Settings,
        tenant: TenantSettings,
        task_id: str,
        known: KnownTask | None,
        target: Path,
        wait: bool,
        display: ProgressDisplay,
    ) -> None:
        self.settings = settings
        self.tenant = tenant
        self.task_id = task_id
        self.known = known
        self.target = target
        self.wait = wait
        self.display = display

    async def run(self) -> int:
        """Ask for the task, wait if allowed, export it; return the exit status."""
        cancel_on_sigterm()
        try:
            async with server_link(self.settings, self.tenant) as link:
                task = await self._finished_task(link)
                job, outcomes = await self._export(link, task)
        except TlsConfigError as exc:
            self._say(f"configuration: {exc}")
            return EXIT_BAD_CONFIG
        except (FatalError, LoginFailed) as exc:
            self._say(str(exc))
            return EXIT_FATAL
        return self._report(job, outcomes)

    def _say(self, message: str) -> None:
        self.display.note(f"hrec-ingest: {printable(message)}")

    async def _finished_task(self, link: TenantLink) -> TaskMetadataResponse:
        task_id = self.task_id
        try:
            task = await link.client.get_task(task_id)
        except NotFoundError:
            raise FatalError(
                f"task {task_id} not found in tenant {self.tenant.name} (as user "
                f"{self.tenant.username}): check the taskId, and --tenant if the task "
                "belongs to another tenant"
            ) from None
        except MiaopError as exc:
            raise FatalError(
                f"cannot ask for task {task_id}: {describe_failure(exc, link)}"
            ) from exc
        if task.taskStatus in FINAL_STATUSES:
            return task
        if not self.wait:
            left = task.sttRemainingTime
            estimate = f", about {human_seconds(left)} left" if left else ""
            raise FatalError(
                f"task {task_id} is still {task.taskStatus}{estimate}: nothing to export yet. "
                "Run this again later, or add --wait"
            )
        meter = WaitMeter(self.display, task_id)
        meter(task.taskStatus, task.sttRemainingTime)
        try:
            return await wait_until_finished(
                link.client,
                task_id,
                poll_timing(self.settings),
                give_up_after=self.settings.http_retry_max_seconds,
                on_status=lambda answer: meter(answer.taskStatus, answer.sttRemainingTime),
                on_trouble=lambda reason, delay: meter.trouble(printable(reason), delay),
                first=task,
            )
        except MiaopError as exc:
            raise FatalError(
                f"cannot follow task {task_id}: {describe_failure(exc, link)}"
            ) from exc

    async def _export(
        self, link: TenantLink, task: TaskMetadataResponse
    ) -> tuple[ExportJob, list[MeetingOutcome]]:
        plans = plans_for(self.task_id, len(task.meetings), self.known)
        if not plans:
            raise FatalError(f"task {self.task_id} lists no meetings: nothing to export")
        known = self.known
        block = known.task if known is not None else server_task_block(self.task_id, task)
        job = ExportJob(
            self.task_id,
            task.taskStatus,
            block,
            self.tenant.name,
            self.target,
            self.settings.export_formats,
        )
        self.display.phase(f"exporting {len(plans)} meeting(s) of task {self.task_id}")
        try:
            outcomes = await export_meetings(
                link.client,
                job,
                plans,
                folder_namer(self.target, self.task_id),
                lambda n, total: self.display.update(f"exported {n} of {total}"),
            )
        except MiaopError as exc:
            raise FatalError(
                f"cannot export task {self.task_id}: {describe_failure(exc, link)}"
            ) from exc
        except OSError as exc:
            raise FatalError(f"cannot write transcripts to {self.target}: {exc}") from exc
        return job, outcomes

    def _report(self, job: ExportJob, outcomes: list[MeetingOutcome]) -> int:
        failed = [o for o in outcomes if o.failure is not None]
        summary = (
            f"task {job.task_id}: {len(outcomes) - len(failed)} of {len(outcomes)} "
            f"meeting(s) exported to {job.target}"
        )
        self.display.note(summary + (f", {len(failed)} in error" if failed else ""))
        for outcome in outcomes:
            self.display.note(printable(outcome_line(outcome, job)))
            for path in outcome.written:
                # Standard output: the files written, one per line, for scripts.
                click.echo(str(path))
        return EXIT_SOME_FAILED if failed else EXIT_OK


def _task_id_argument(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not is_task_id(value):
        raise click.BadParameter(
            f"{printable(value)!r} is not a taskId (letters, digits, '-' and '_', "
            "at most 128, e.g. 7uq0wa6b0bdugcjy)"
        )
    return value


@click.command("fetch", short_help="Export the transcripts of an existing task.")
@click.argument("task_id", metavar="TASK_ID", callback=_task_id_argument)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Folder to write the transcripts to (default: OUTPUT_DIR/<tenant>); created if missing.",
)
@click.option(
    "--tenant",
    metavar="T",
    help="Tenant the task belongs to (default: the one the journal knows it by, else TENANT).",
)
@config_option
@click.option(
    "--wait",
    is_flag=True,
    help="If the task is still being processed, wait for it instead of exiting with status 1.",
)
def fetch_command(
    task_id: str, out: Path | None, tenant: str | None, config_file: Path | None, wait: bool
) -> None:
    """Export the transcripts of an existing task, whoever submitted it.

    Each meeting of the task is written in EXPORT_FORMATS with the daemon's
    renderers. Tasks this machine sent (the daemon's journal or a submit
    record in STATE_DIR knows them) are named after their audio files, others
    <taskId>.<meeting index>.<fmt>. Existing files are never overwritten: a
    name that is taken gets the taskId before its extension.

    Standard output lists the files written, one per line; progress and
    results go to standard error. Exit status: 0 every meeting exported, 3
    some meetings in error (each named, with the reason), 2 bad configuration
    or TASK_ID, 1 fatal (task not found, still processing without --wait,
    server unreachable, interrupted).

    Example: hrec-ingest fetch 7uq0wa6b0bdugcjy --out ./transcripts
    """
    flags = {"TENANT": flag(tenant, "--tenant")}
    settings = load_or_exit(config_file, flags, require_credentials=False)
    known, notes = look_up(settings.state_dir, task_id)
    given = {key for key, value in flags.items() if value.value is not None}
    preferred = known.tenant if known is not None else None
    profile = pick_tenant(settings, given, "--tenant", preferred)
    require_server(settings, profile)
    display = command_display(settings, profile)
    for note in notes:
        display.note(f"warning: {printable(note)}")
    target = out.resolve() if out is not None else settings.output_dir / profile.name
    fetch = Fetch(settings, profile, task_id, known, target, wait, display)

    def interrupted() -> None:
        display.note(f"hrec-ingest: interrupted; task {task_id} was not (fully) exported")

    code = run_interruptible(fetch.run, interrupted)
    display.close()
    sys.exit(code)
