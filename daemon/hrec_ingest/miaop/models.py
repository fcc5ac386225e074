"""The server's JSON, as the guide's section 2 describes it.

Field names keep the guide's camelCase so that a model reads like the table it
comes from. Every model keeps unknown fields (the guide's examples end in
``...``) so that nothing the server sends is dropped on the way to the
transcript JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TaskStatus(StrEnum):
    """Values of ``taskStatus`` and of a meeting's ``metadata.status`` (guide 2.3.1, 2.5.1)."""

    PENDING = "sttPending"
    PROCESSING = "sttProcessing"
    DONE = "sttDone"
    ERROR = "error"


FINAL_STATUSES = frozenset({TaskStatus.DONE, TaskStatus.ERROR})


class TokenResponse(_Wire):
    """Keycloak's answer to the token endpoint (guide 2.1.1, 3.4)."""

    access_token: str
    expires_in: int
    refresh_token: str | None = None
    refresh_expires_in: int | None = None


class SupervisorInfo(_Wire):
    name: str = ""
    email: str


class MeetingFile(_Wire):
    """One item of a MeetingDesc's ``files`` (guide 2.2.1.2): always exactly one."""

    file: str
    baseLanguage: str


class MeetingDesc(_Wire):
    files: list[MeetingFile]
    aiGenerationMode: str | None = None


class TaskMetadata(_Wire):
    """The ``task`` form field of ``POST /hrec`` (guide 2.2.1.1, example 3.4.1)."""

    taskId: str | None = None
    tenant: str
    taskName: str
    taskType: str = "offline"
    taskCreationTime: str
    taskUpdateTime: str | None = None
    taskStatus: str = TaskStatus.PENDING.value
    baseLanguages: list[str]
    # The guide types this as a String holding a JSON object (at most 10 KB).
    genericAdditionalInfo: str | None = None
    meetings: list[MeetingDesc]
    docSections: list[Any] = Field(default_factory=list)
    supervisor: SupervisorInfo


class SubmitResponse(_Wire):
    """``POST /hrec``'s answer (guide 2.2.2)."""

    taskId: str


class MeetingRef(_Wire):
    meetingId: str


class TaskMetadataResponse(_Wire):
    """``GET /api/tasks/{taskId}`` (guide 2.3.1): extends TaskMetadata; what we use is required."""

    taskId: str
    taskStatus: str
    # Seconds; the guide says integer, a fractional value is accepted rather than refused.
    sttRemainingTime: float | None = None
    meetings: list[MeetingRef] = Field(default_factory=list)
    tenant: str | None = None
    taskName: str | None = None


class TaskProgress(BaseModel):
    """What polling reads of a TaskMetadataResponse; the rest of the object is not kept.

    Validating a task-list answer into these costs a tenth of validating it
    into whole TaskMetadataResponse objects (measured: 1.0 ms against 11.7 ms
    for 150 tasks of 20 meetings), and a poller reads such lists over and over.
    """

    model_config = ConfigDict(extra="ignore")

    taskId: str
    taskStatus: str
    sttRemainingTime: float | None = None


class ErrorInfo(_Wire):
    name: str = ""
    message: str = ""
    errorLevel: str = ""


class MeetingMetadata(_Wire):
    status: str
    errorInfo: ErrorInfo | None = None


class Meeting(_Wire):
    """``GET /api/meetings/{meetingId}`` (guide 2.5.1)."""

    meetingId: str
    metadata: MeetingMetadata


class Word(_Wire):
    word: str = ""
    # Milliseconds. The guide says integer; floats are accepted rather than failing a whole meeting.
    location: float | None = None
    duration: float | None = None
    confidence: float | None = None


class ParagraphDesc(_Wire):
    """One paragraph of a transcription (guide 2.6.1.1).

    Section 2 names the speaker field ``Id``; the example in 3.8 writes ``id``.
    Both are read; the raw object is what the transcript JSON keeps.
    """

    speaker: str | None = Field(default=None, validation_alias=AliasChoices("Id", "id"))
    location: float | None = None
    duration: float | None = None
    text: str = ""
    words: list[Word] = Field(default_factory=list)


class Transcription(_Wire):
    """``GET /api/stt/{meetingId}/0`` (guide 2.6.1)."""

    transcription: list[ParagraphDesc]


def meeting_id(index: int, task_id: str) -> str:
    """The guide's meeting id, ``<file-index>.<taskId>`` with a 1-based index (guide 2.5)."""
    return f"{index}.{task_id}"
