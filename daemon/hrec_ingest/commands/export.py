"""Export one finished task's meetings to a folder: the part ``submit`` and ``fetch`` share.

Per meeting, in order: its metadata (``GET /api/meetings/{id}``) and, when it
is done, its transcription (``GET /api/stt/{id}/0``), written in each
EXPORT_FORMATS format with the daemon's renderers and the daemon's JSON
document (interface.md section 5). A meeting that ended in error, is missing,
or whose transcription is not the guide's JSON is reported with the reason the
daemon's ``.error.json`` would give. Names come from the caller's ``Namer``;
nothing the server returns becomes a path, and nothing is ever overwritten.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hrec_ingest.commands.known import is_plain_relative
from hrec_ingest.formats import FORMATS, render
from hrec_ingest.fsops import atomic_write, free_name, stem_for
from hrec_ingest.miaop import MiaopClient
from hrec_ingest.miaop.errors import NotFoundError, UnexpectedResponseError
from hrec_ingest.miaop.models import Meeting, ParagraphDesc, TaskStatus, meeting_id
from hrec_ingest.pipeline.layout import Folders, choose_export_names
from hrec_ingest.pipeline.outcomes import transcript_doc

# A name can be taken between choosing it and writing it (another writer in the
# folder); choosing again this many times is plenty.
NAME_TRIES = 5


@dataclass(frozen=True, slots=True)
class MeetingPlan:
    """One meeting to export: its 1-based index and what this machine knows of its audio.

    ``stem`` is the transcript name wanted (``sub/call``), ``rel_path`` the
    audio's path when it is known here, ``source`` the JSON's ``source`` block
    (None: built from the server's answer), ``label`` how to name it to the user.
    """

    index: int
    stem: str
    rel_path: str | None
    source: Mapping[str, Any] | None
    label: str


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a meeting has no transcripts: the names and levels of ``.error.json``."""

    name: str
    message: str
    level: str = "critical"


@dataclass(frozen=True, slots=True)
class MeetingOutcome:
    """What became of one meeting: the files written, or why there are none."""

    plan: MeetingPlan
    meeting_id: str
    stem: str | None = None
    written: tuple[Path, ...] = ()
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class ExportJob:
    """A finished task to export: its id and final status, ``task`` block, tenant and folder."""

    task_id: str
    task_status: str
    task: Mapping[str, Any]
    tenant: str
    target: Path
    formats: tuple[str, ...]


# Chooses a free transcript stem (relative to the job's folder) for a meeting.
Namer = Callable[[MeetingPlan], str]


def transcript_document(
    source: Mapping[str, Any],
    task: Mapping[str, Any],
    meeting: Meeting,
    raw_paragraphs: Sequence[Any],
) -> dict[str, Any]:
    """The ``<stem>.json`` document of interface.md section 5, built as the daemon builds it."""
    return transcript_doc(source, task, meeting.meetingId, meeting, raw_paragraphs)


def server_source(tenant: str, meeting: Meeting) -> dict[str, Any]:
    """The ``source`` block of a meeting sent from elsewhere: only the name the server lists.

    The keys are the daemon's; what only the sender knew (path, size,
    sha256) is null.
    """
    name = None
    files = (meeting.metadata.model_extra or {}).get("files")
    if isinstance(files, list) and files and isinstance(files[0], dict):
        listed = files[0].get("file")
        name = listed if isinstance(listed, str) else None
    return {"tenant": tenant, "path": None, "name": name, "size": None, "sha256": None}


def failure_of(meeting: Meeting, task_status: str) -> Failure | None:
    """Why this meeting of a finished task has no transcript, or None when it is done."""
    status = meeting.metadata.status
    if status == TaskStatus.ERROR or task_status == TaskStatus.ERROR:
        info = meeting.metadata.errorInfo
        what = "meeting" if status == TaskStatus.ERROR else "task"
        return Failure(
            info.name if info and info.name else "TaskError",
            info.message if info and info.message else f"the server ended this {what} in error",
            info.errorLevel if info and info.errorLevel else "critical",
        )
    if status != TaskStatus.DONE:
        return Failure("NotFinished", f"the meeting is {status} although its task is {task_status}")
    return None


def output_path(target: Path, stem: str, fmt: str) -> Path:
    """Where the ``fmt`` transcript of ``stem`` (``/``-separated) goes below ``target``."""
    return target.joinpath(*f"{stem}.{fmt}".split("/"))


def _stems_taken(target: Path, stem: str) -> bool:
    # Any transcript of the stem counts, as in the daemon: json and txt stay a visible pair.
    return any(os.path.lexists(output_path(target, stem, fmt)) for fmt in FORMATS)


def folder_namer(target: Path, tag: str) -> Namer:
    """Names in ``target`` alone: the plan's stem, or ``<stem>.<tag>`` (then ``.<tag>.2``...)
    when a transcript of that stem exists or was chosen earlier in this run."""
    chosen: set[str] = set()

    def name(plan: MeetingPlan) -> str:
        folder_rel, _, base = plan.stem.rpartition("/")

        def taken(candidate: Path) -> bool:
            stem = _joined(folder_rel, stem_for(candidate.name))
            return stem in chosen or _stems_taken(target, stem)

        # free_name moves the tag before the last extension; ".json" stands for all formats.
        picked = free_name(target / folder_rel, base + ".json", tag, exists=taken)
        stem = _joined(folder_rel, stem_for(picked))
        chosen.add(stem)
        return stem

    return name


def daemon_namer(
    folders: Folders, tenant: str, task_id: str, reserved: Callable[[str, str], bool]
) -> Namer:
    """The daemon's own names (``choose_export_names``) in OUTPUT_DIR/<tenant>.

    ``reserved(stem, dest)`` says whether the daemon's journal holds a name;
    names chosen earlier in this run count as taken too. Plans without a
    ``rel_path`` fall back to the folder rule.
    """
    stems: set[str] = set()
    dests: set[str] = set()
    fallback = folder_namer(folders.output_dir / tenant, task_id)

    def held(stem: str, dest: str) -> bool:
        return stem in stems or dest in dests or reserved(stem, dest)

    def name(plan: MeetingPlan) -> str:
        if plan.rel_path is None:
            return fallback(plan)
        stem, dest = choose_export_names(folders, tenant, plan.rel_path, task_id, held)
        stems.add(stem)
        dests.add(dest)
        return stem

    return name


def _joined(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def write_transcripts(
    target: Path,
    stem: str,
    formats: Sequence[str],
    paragraphs: Sequence[ParagraphDesc],
    document: Mapping[str, Any],
) -> tuple[Path, ...]:
    """Write every format of one meeting atomically, never over another file.

    If a name turns out to be taken (FileExistsError), the files this call
    wrote are removed again, so that the caller can retry under a new stem.
    """
    if not is_plain_relative(stem):
        raise ValueError(f"not a safe transcript name: {stem!r}")
    written: list[Path] = []
    try:
        for fmt in formats:
            path = output_path(target, stem, fmt)
            atomic_write(path, render(fmt, paragraphs=paragraphs, document=document))
            written.append(path)
    except FileExistsError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return tuple(written)


async def export_meetings(
    client: MiaopClient,
    job: ExportJob,
    plans: Sequence[MeetingPlan],
    namer: Namer,
    on_done: Callable[[int, int], None],
) -> list[MeetingOutcome]:
    """Export every planned meeting in order; ``on_done(n, total)`` after each.

    Raises the client's MiaopError when the server cannot be asked (after
    the client's retries) and OSError when the folder refuses the files: the
    caller reports either as fatal, with the taskId to fetch again later.
    """
    outcomes: list[MeetingOutcome] = []
    for plan in plans:
        outcomes.append(await _export_one(client, job, plan, namer))
        on_done(len(outcomes), len(plans))
    return outcomes


async def _export_one(
    client: MiaopClient, job: ExportJob, plan: MeetingPlan, namer: Namer
) -> MeetingOutcome:
    mid = meeting_id(plan.index, job.task_id)
    try:
        meeting = await client.get_meeting(mid)
    except NotFoundError:
        missing = Failure("MissingMeeting", f"the server has no meeting {mid}")
        return MeetingOutcome(plan, mid, failure=missing)
    failure = failure_of(meeting, job.task_status)
    if failure is not None:
        return MeetingOutcome(plan, mid, failure=failure)
    try:
        result = await client.get_transcription(mid)
    except UnexpectedResponseError as exc:
        return MeetingOutcome(plan, mid, failure=Failure("BadTranscription", str(exc)))
    source = plan.source if plan.source is not None else server_source(job.tenant, meeting)
    document = transcript_document(source, job.task, meeting, result.raw)
    for _ in range(NAME_TRIES):
        stem = namer(plan)
        try:
            written = await asyncio.to_thread(
                write_transcripts, job.target, stem, job.formats, result.paragraphs, document
            )
        except FileExistsError:
            continue  # taken since it was chosen: the namer sees that now
        return MeetingOutcome(plan, mid, stem=stem, written=written)
    raise FileExistsError(f"no free transcript name for {plan.label} in {job.target}")


def outcome_line(outcome: MeetingOutcome, job: ExportJob) -> str:
    """One line per meeting for the user: where its transcripts are, or why there are none."""
    if outcome.failure is not None:
        f = outcome.failure
        return f"  failed  {outcome.plan.label}: {f.name}: {f.message} ({f.level})"
    assert outcome.stem is not None
    where = output_path(job.target, outcome.stem, "")
    return f"  ok      {outcome.plan.label} -> {where}{{{','.join(job.formats)}}}"
