"""The read side of the guide's section 2: task, task list, meeting, transcription."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from hrec_ingest.miaop.models import TaskStatus
from hrec_ingest.simulator.context import authenticate, json_error, require_tenant, state_of
from hrec_ingest.simulator.filters import MISSING, FilterError, Resolver, compile_filter
from hrec_ingest.simulator.tasks import (
    TaskRecord,
    meeting_document,
    parse_meeting_id,
    task_document,
)
from hrec_ingest.simulator.tokens import Grant
from hrec_ingest.simulator.transcript import transcription_body
from hrec_ingest.simulator.validation import MASTER_REALM

# Fields the filter may name that are computed, not stored as sent; looking
# them up directly spares building a whole document per task and filter.
_COMPUTED: dict[str, Callable[[TaskRecord, float], Any]] = {
    "extraData.taskUpdateTimeNumeric": lambda task, now: int(task.update_epoch(now)),
    "extraData.archive": lambda task, now: task.archived,
    "extraData.tenant": lambda task, now: task.tenant,
    "extraData.supervisor.email": lambda task, now: task.supervisor["email"],
    "extraData.supervisor.name": lambda task, now: task.supervisor["name"],
    "taskId": lambda task, now: task.task_id,
    "taskStatus": lambda task, now: task.status(now).value,
    "sttRemainingTime": lambda task, now: task.phase(now).remaining_seconds,
}


def _resolver(task: TaskRecord, now: float) -> Resolver:
    def resolve(path: str) -> Any:
        computed = _COMPUTED.get(path)
        if computed is not None:
            return computed(task, now)
        value: Any = task.submitted
        for key in path.split("."):
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
        return value

    return resolve


def _not_found(message: str) -> web.HTTPException:
    return json_error(web.HTTPNotFound, {"message": message})


def _task(request: web.Request, grant: Grant, task_id: str) -> TaskRecord:
    task = state_of(request).tasks.get(task_id)
    if task is None:
        raise _not_found(f"task {task_id!r} not found")
    require_tenant(grant, task.tenant)
    return task


def _meeting(request: web.Request, grant: Grant) -> tuple[TaskRecord, int]:
    value = request.match_info["meeting_id"]
    parsed = parse_meeting_id(value)
    if parsed is None:
        raise _not_found(f"meeting {value!r} not found: ids are <index>.<taskId>, index from 1")
    index, task_id = parsed
    task = state_of(request).tasks.get(task_id)
    if task is None or index >= len(task.files):
        raise _not_found(f"meeting {value!r} not found")
    require_tenant(grant, task.tenant)
    return task, index


async def get_task(request: web.Request) -> web.Response:
    """``GET /api/tasks/{taskId}``: the TaskMetadataResponse of one task."""
    grant = authenticate(request)
    task = _task(request, grant, request.match_info["task_id"])
    return web.json_response(task_document(task, state_of(request).now()))


async def list_tasks(request: web.Request) -> web.Response:
    """``GET /api/tasks?filter=...``: the caller's tenant's tasks that match the filter."""
    grant = authenticate(request)
    try:
        predicate = compile_filter(request.query.get("filter"))
    except FilterError as exc:
        raise json_error(web.HTTPBadRequest, {"message": str(exc)}) from None
    state = state_of(request)
    now = state.now()
    everyone = grant.tenant == MASTER_REALM
    found = [
        task_document(task, now)
        for task in state.tasks.values()
        if (everyone or task.tenant == grant.tenant) and predicate(_resolver(task, now))
    ]
    return web.json_response(found)


async def get_meeting(request: web.Request) -> web.Response:
    """``GET /api/meetings/{meetingId}``: a meeting's status, files and errorInfo."""
    grant = authenticate(request)
    task, index = _meeting(request, grant)
    return web.json_response(meeting_document(task, index, state_of(request).now()))


async def get_transcription(request: web.Request) -> web.Response:
    """``GET /api/stt/{meetingId}/0``: the transcription, once the meeting is sttDone."""
    grant = authenticate(request)
    task, index = _meeting(request, grant)
    status = task.meeting_status(index, state_of(request).now())
    if status is not TaskStatus.DONE:
        message = f"meeting is {status.value}: the transcription exists once it is sttDone"
        raise json_error(web.HTTPConflict, {"message": message})
    file = task.files[index]
    body = transcription_body(file.sha256, file.base_language, int(file.duration_seconds * 1000))
    return web.Response(body=body, content_type="application/json", charset="utf-8")
