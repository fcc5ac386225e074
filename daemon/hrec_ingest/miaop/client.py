"""The client of the guide's section 2: one method per endpoint, per tenant, on a shared session."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError
from yarl import URL

from hrec_ingest import diskwork
from hrec_ingest.miaop.auth import TokenManager
from hrec_ingest.miaop.errors import (
    AuthenticationError,
    ConflictError,
    MiaopError,
    NotFoundError,
    UnexpectedResponseError,
    server_message,
)
from hrec_ingest.miaop.filters import TaskListFilter, filter_query
from hrec_ingest.miaop.keepalive import KeepAliveGets
from hrec_ingest.miaop.models import (
    Meeting,
    ParagraphDesc,
    SubmitResponse,
    TaskMetadata,
    TaskMetadataResponse,
    TaskProgress,
    Transcription,
)
from hrec_ingest.miaop.observer import NullObserver, Observer
from hrec_ingest.miaop.retry import RetryPolicy, call_with_retry
from hrec_ingest.miaop.transport import Response, send, send_get
from hrec_ingest.miaop.upload import (
    Progress,
    UploadPart,
    build_body,
    check_parts,
    payload_summary,
    read_small_files,
    upload_timeout,
)

log = structlog.get_logger(__name__)

SINGLE_ATTEMPT = RetryPolicy(attempts=1)


@dataclass(frozen=True, slots=True)
class TranscriptionResult:
    """A meeting's transcription: parsed paragraphs, and the objects exactly as sent."""

    paragraphs: list[ParagraphDesc]
    raw: list[dict[str, Any]]


class MiaopClient:
    """Talks to one tenant of a Meeting Insights On-Prem server.

    Every method retries what the policy allows (``retry`` overrides the
    client's policy for one call), renews the token once and repeats the
    request once on a 401, and raises a :class:`MiaopError` subclass for
    anything else. Several clients (one per tenant) share one session.
    With ``gets``, the plain GETs (task, task list, meeting, transcription)
    go through it instead of the session: a third of the CPU per request.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_base_url: str | URL,
        tokens: TokenManager,
        *,
        retry: RetryPolicy | None = None,
        observer: Observer | None = None,
        gets: KeepAliveGets | None = None,
    ) -> None:
        self._session = session
        self._gets = gets
        self._base = URL(str(api_base_url))
        self._tokens = tokens
        self._retry = retry if retry is not None else RetryPolicy()
        self._observer: Observer = observer if observer is not None else NullObserver()

    def __repr__(self) -> str:
        return f"MiaopClient(api={str(self._base)!r}, tenant={self._tokens.tenant!r})"

    @property
    def tenant(self) -> str:
        """The tenant whose token this client uses."""
        return self._tokens.tenant

    async def submit_task(
        self,
        task: TaskMetadata,
        files: Sequence[UploadPart],
        *,
        on_progress: Callable[[int], None] | None = None,
        retry: RetryPolicy | None = None,
    ) -> str:
        """Upload a task and its audio (``POST /hrec``, guide 2.2) and return its taskId.

        ``files[i]`` is the audio of ``task.meetings[i]`` and its filename must
        be that meeting's ``file``. Files stream from disk; ``on_progress``
        gets the file bytes sent so far in the current attempt (a retry starts
        again from 0). With ``task.taskId`` set, a failure after which the
        server may have kept the task is followed by ``GET /api/tasks/{id}``
        before sending again, so the audio is never accepted twice. Without
        it, only failures that prove the server turned the request away are
        retried.
        """
        check_parts(task, files)
        chosen = task.taskId
        timeout = upload_timeout(self._session)
        # Whether the last attempt, or any attempt, failed in a way that may have left the task
        # on the server (an answer lost, not a request turned away).
        last_unsure = any_unsure = False
        started = time.monotonic()

        contents: list[bytes | None] = []

        def body() -> aiohttp.MultipartWriter:
            progress = Progress(on_progress, self._observer.on_bytes_uploaded)
            return build_body(
                task, files, progress, write_timeout=timeout.sock_read, contents=contents
            )

        async def attempt() -> str:
            nonlocal last_unsure, any_unsure
            if chosen is not None and last_unsure and await self._task_exists(chosen):
                log.info("task.submit_recovered", task_id=chosen, after="lost answer")
                return chosen
            # Checked, and the small files read, afresh for each attempt.
            contents[:] = await diskwork.in_thread(read_small_files, files)
            try:
                response = await self._authorized(
                    "POST", self._base / "hrec", "hrec", data=body, timeout=timeout
                )
            except ConflictError:
                # A probe can come while the server is still storing an earlier attempt.
                if chosen is not None and any_unsure and await self._task_exists(chosen):
                    log.info("task.submit_recovered", task_id=chosen, after="conflict")
                    return chosen
                raise
            except MiaopError as exc:
                last_unsure = not exc.request_rejected
                any_unsure = any_unsure or last_unsure
                raise
            return response.model(SubmitResponse).taskId

        task_id = await call_with_retry(
            attempt, retry or self._retry, endpoint="hrec", idempotent=chosen is not None
        )
        seconds = time.monotonic() - started
        if chosen is not None and task_id != chosen:
            log.warning("task.id_replaced", requested=chosen, task_id=task_id)
        log.info(
            "task.submitted", task_id=task_id, seconds=round(seconds, 3), **payload_summary(files)
        )
        return task_id

    async def get_task(
        self, task_id: str, *, retry: RetryPolicy | None = None
    ) -> TaskMetadataResponse:
        """A task's metadata and status (``GET /api/tasks/{taskId}``, guide 2.3).

        A task the server does not know raises NotFoundError.
        """
        response = await self._call(
            "task", self._base.joinpath("api", "tasks", _segment(task_id)), retry
        )
        return response.model(TaskMetadataResponse)

    async def list_tasks(
        self, filter: TaskListFilter, *, retry: RetryPolicy | None = None
    ) -> list[TaskMetadataResponse]:
        """The tasks that match ``filter`` (``GET /api/tasks?filter=...``, guide 2.4)."""
        response = await self._call("tasks", self._task_list_url(filter), retry)
        return _task_list(response, TaskMetadataResponse)

    async def list_task_progress(
        self, filter: TaskListFilter, *, retry: RetryPolicy | None = None
    ) -> list[TaskProgress]:
        """Like :meth:`list_tasks`, keeping only what polling reads of each task."""
        response = await self._call("tasks", self._task_list_url(filter), retry)
        return _task_list(response, TaskProgress)

    def _task_list_url(self, filter: TaskListFilter) -> URL:
        # Encoded here, as the guide's encodeURIComponent does; yarl would leave "$:,{}" as is.
        return URL(f"{self._base / 'api' / 'tasks'}?{filter_query(filter)}", encoded=True)

    async def get_meeting(self, meeting_id: str, *, retry: RetryPolicy | None = None) -> Meeting:
        """A meeting's metadata and status (``GET /api/meetings/{meetingId}``, guide 2.5)."""
        response = await self._call(
            "meeting", self._base.joinpath("api", "meetings", _segment(meeting_id)), retry
        )
        return response.model(Meeting)

    async def get_transcription(
        self, meeting_id: str, *, retry: RetryPolicy | None = None
    ) -> TranscriptionResult:
        """A meeting's transcription (``GET /api/stt/{meetingId}/0``, guide 2.6).

        ``raw`` keeps each paragraph object exactly as received, for the
        transcript JSON; ``paragraphs`` is the same data parsed.
        """
        url = self._base.joinpath("api", "stt", _segment(meeting_id), "0")
        response = await self._call("stt", url, retry)
        data = response.json()
        paragraphs = data.get("transcription") if isinstance(data, dict) else None
        if not isinstance(paragraphs, list) or not all(isinstance(p, dict) for p in paragraphs):
            raise UnexpectedResponseError(
                response.status,
                response.body,
                "expected {'transcription': [paragraph objects]}",
                endpoint="stt",
            )
        parsed = response.model(Transcription, data)
        return TranscriptionResult(paragraphs=parsed.transcription, raw=paragraphs)

    async def _task_exists(self, task_id: str) -> bool:
        """Whether the server kept a task that an earlier attempt may have delivered."""
        try:
            await self.get_task(task_id, retry=SINGLE_ATTEMPT)
        except NotFoundError:
            return False
        return True

    async def _call(self, endpoint: str, url: URL, retry: RetryPolicy | None) -> Response:
        async def attempt() -> Response:
            return await self._authorized("GET", url, endpoint)

        return await call_with_retry(attempt, retry or self._retry, endpoint=endpoint)

    async def _authorized(
        self,
        method: str,
        url: URL,
        endpoint: str,
        *,
        data: Callable[[], Any] | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
    ) -> Response:
        """One attempt with a bearer token; on 401 renew once and send once more.

        ``data`` is a factory because a streamed body can be sent only once.
        """

        plain_get = method == "GET" and data is None and timeout is None
        gets = self._gets if plain_get else None

        async def exchange(token: str) -> Response:
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if gets is not None:
                return await send_get(
                    gets, url, endpoint=endpoint, observer=self._observer, headers=headers
                )
            return await send(
                self._session,
                method,
                url,
                endpoint=endpoint,
                observer=self._observer,
                headers=headers,
                data=data() if data is not None else None,
                timeout=timeout,
            )

        token = await self._tokens.access_token()
        response = await exchange(token)
        if response.status == 401:
            log.info("auth.token_rejected", tenant=self.tenant, endpoint=endpoint)
            response = await exchange(await self._tokens.renew(token))
            if response.status == 401:
                raise AuthenticationError(
                    401,
                    server_message(response.body),
                    hint=(
                        f"the API refused a fresh token of tenant {self.tenant!r}: check that "
                        "KEYCLOAK_BASE_URL and API_BASE_URL belong to one installation and that "
                        "the user may use the API"
                    ),
                    endpoint=endpoint,
                )
        response.raise_for_status()
        return response


T = TypeVar("T", bound=BaseModel)


@functools.cache
def _list_of(item: type[BaseModel]) -> TypeAdapter[Any]:
    return TypeAdapter(list[item])  # type: ignore[valid-type]


def _task_list(response: Response, item: type[T]) -> list[T]:
    """A task-list answer validated straight from its bytes (a poller reads many)."""
    try:
        tasks: list[T] = _list_of(item).validate_json(response.body)
        return tasks
    except ValidationError:
        pass
    # Parsed again only to say precisely what is wrong: not JSON, not an array, which item.
    data = response.json()
    if not isinstance(data, list):
        raise UnexpectedResponseError(
            response.status, response.body, "expected a JSON array of tasks", endpoint="tasks"
        )
    return [response.model(item, entry) for entry in data]


def _segment(value: str) -> str:
    """An id as one path segment; an empty id or one with a slash would address another resource."""
    if not value or "/" in value:
        raise ValueError(f"not a valid id: {value!r}")
    return value
