"""``POST /hrec`` (guide 2.2): stream the multipart body, validate, accept the task.

Audio parts are hashed chunk by chunk and forgotten; only each file's name,
size, sha256 and duration are kept. The parts may come in any order, so the
``task`` field is checked against the files only once the body has been read.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from aiohttp import BodyPartReader, MultipartReader, web

from hrec_ingest.simulator.audio import FileDigest, StreamingDigest
from hrec_ingest.simulator.context import (
    UPLOAD_TASK_ID,
    authenticate,
    json_error,
    options_of,
    state_of,
)
from hrec_ingest.simulator.options import SimulatorOptions
from hrec_ingest.simulator.state import SimulatorState
from hrec_ingest.simulator.tasks import FileRecord, TaskRecord, total_processing_seconds
from hrec_ingest.simulator.validation import SubmissionError, ValidTask, validate_submission

CHUNK_BYTES = 256 * 1024
TASK_FIELD_MAX_BYTES = 1024 * 1024
CLIENT_CLOSED_REQUEST = 499


def _bad_request(message: str) -> web.HTTPException:
    return json_error(web.HTTPBadRequest, {"message": message})


def _first_match(names: Iterable[str], patterns: tuple[str, ...]) -> str | None:
    for name in names:
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            return name
    return None


async def read_task_field(part: BodyPartReader) -> str:
    """The text of the ``task`` field, at most TASK_FIELD_MAX_BYTES (400 beyond)."""
    data = bytearray()
    while chunk := await part.read_chunk(CHUNK_BYTES):
        data += chunk
        if len(data) > TASK_FIELD_MAX_BYTES:
            raise _bad_request(f"task field is larger than {TASK_FIELD_MAX_BYTES} bytes")
    try:
        return data.decode(part.get_charset("utf-8"))
    except (LookupError, UnicodeDecodeError) as exc:
        raise _bad_request(f"task field cannot be decoded: {exc}") from None


async def _read_sound(part: BodyPartReader) -> FileDigest:
    if not part.filename:
        raise _bad_request("a soundBlob part has no filename")
    digest = StreamingDigest(part.filename)
    while chunk := await part.read_chunk(CHUNK_BYTES):
        digest.update(chunk)
    return digest.finish()


async def _read_form(reader: MultipartReader) -> tuple[str, list[FileDigest]]:
    task_text: str | None = None
    files: list[FileDigest] = []
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise _bad_request("nested multipart bodies are not accepted")
        if part.name == "task":
            if task_text is not None:
                raise _bad_request("more than one task field")
            task_text = await read_task_field(part)
        elif part.name == "soundBlob":
            files.append(await _read_sound(part))
        else:
            raise _bad_request(f"unexpected form field {part.name!r}: expected task and soundBlob")
    if task_text is None:
        raise _bad_request("the task field (TaskMetadata JSON) is missing")
    return task_text, files


def _record(
    valid: ValidTask,
    task_id: str,
    files: list[FileDigest],
    options: SimulatorOptions,
    state: SimulatorState,
) -> TaskRecord:
    by_name = {f.name: f for f in files}
    records: list[FileRecord] = []
    # Meetings are numbered in the order of the task's meetings, not of the parts.
    for meeting in valid.metadata.meetings:
        described = meeting.files[0]
        digest = by_name[described.file]
        fails = _first_match([digest.name], options.error_files) is not None
        records.append(
            FileRecord(
                digest.name,
                digest.size,
                digest.sha256,
                digest.duration_seconds,
                described.baseLanguage,
                fails,
            )
        )
    audio_seconds = sum(f.duration_seconds for f in records)
    now = state.now()
    supervisor = valid.metadata.supervisor
    return TaskRecord(
        task_id=task_id,
        tenant=valid.metadata.tenant,
        task_name=valid.metadata.taskName,
        supervisor={"name": supervisor.name, "email": supervisor.email},
        base_languages=list(valid.metadata.baseLanguages),
        generic_additional_info=valid.metadata.genericAdditionalInfo,
        submitted=valid.raw,
        files=records,
        created=now,
        created_epoch=state.epoch(now),
        pending_seconds=options.pending_seconds,
        processing_seconds=total_processing_seconds(
            options.processing_seconds, options.processing_per_audio_second, audio_seconds
        ),
        task_error_file=_first_match((f.name for f in records), options.task_error_files),
    )


async def submit_task(request: web.Request) -> web.Response:
    """``POST /hrec``: accept a task and its audio, answer ``{"taskId": ...}``."""
    grant = authenticate(request)
    options = options_of(request)
    state = state_of(request)
    if request.content_type != "multipart/form-data":
        raise _bad_request(f"Content-Type must be multipart/form-data, got {request.content_type}")
    try:
        task_text, files = await _read_form(await request.multipart())
    except ValueError as exc:
        raise _bad_request(f"malformed multipart body: {exc}") from None
    except ConnectionError:
        # The client went away mid-upload: nobody to answer, nothing to log.
        # 499 is what proxies record for it.
        return web.Response(status=CLIENT_CLOSED_REQUEST, reason="Client Closed Request")
    try:
        valid = validate_submission(
            task_text, [f.name for f in files], grant.tenant, options.languages
        )
    except SubmissionError as exc:
        raise _bad_request(str(exc)) from None
    UPLOAD_TASK_ID.set(valid.metadata.taskId)
    rejected = _first_match((f.name for f in files), options.reject_files)
    if rejected is not None:
        raise _bad_request(f"file {rejected!r} was rejected: unsupported or corrupt audio")
    task_id = valid.metadata.taskId or state.new_task_id()
    # No await between this check and add_task: two uploads with the same
    # taskId cannot both pass it.
    if task_id in state.tasks:
        raise json_error(web.HTTPConflict, {"message": f"task {task_id!r} already exists"})
    state.add_task(_record(valid, task_id, files, options, state))
    return web.json_response({"taskId": task_id})
