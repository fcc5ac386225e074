"""What ``POST /hrec`` accepts: the rules of the guide's section 2.2, as pure checks.

Each rule that fails raises :class:`SubmissionError` with a message naming
the field and the problem, which the server answers as a 400.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from hrec_ingest.miaop.models import TaskMetadata, TaskStatus

GENERIC_INFO_MAX_BYTES = 10 * 1024
MASTER_REALM = "master"
# A taskId ends up in URLs and in meeting ids: keep it to URL-safe characters.
_TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class SubmissionError(ValueError):
    """The submission breaks a rule of the guide; the message says which."""


@dataclass(frozen=True, slots=True)
class ValidTask:
    metadata: TaskMetadata
    # The object as sent, unknown fields included, to echo back later.
    raw: dict[str, Any]


def parse_task(text: str) -> dict[str, Any]:
    """The ``task`` form field as a JSON object."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise SubmissionError(f"task field is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SubmissionError("task field must be a JSON object (TaskMetadata)")
    return raw


def _check_fixed_fields(raw: dict[str, Any], realm: str) -> None:
    # Checked on the raw object: the model would fill in these defaults.
    if raw.get("taskType") != "offline":
        raise SubmissionError(f'taskType must be "offline", got {raw.get("taskType")!r}')
    if raw.get("taskStatus") != TaskStatus.PENDING.value:
        raise SubmissionError(f'taskStatus must be "sttPending", got {raw.get("taskStatus")!r}')
    tenant = raw.get("tenant")
    if not isinstance(tenant, str) or not tenant:
        raise SubmissionError("tenant is required")
    if tenant != realm and realm != MASTER_REALM:
        raise SubmissionError(f"tenant {tenant!r} does not match the token's tenant {realm!r}")


def _model(raw: dict[str, Any]) -> TaskMetadata:
    try:
        return TaskMetadata.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise SubmissionError(f"task does not match TaskMetadata: {problems}") from None


def _check_languages(task: TaskMetadata, languages: Sequence[str]) -> None:
    if not task.baseLanguages:
        raise SubmissionError("baseLanguages must not be empty")
    for language in task.baseLanguages:
        if language not in languages:
            raise SubmissionError(
                f"baseLanguages: {language!r} is not a supported language "
                f"(case-sensitive; supported: {', '.join(languages)})"
            )


def _check_meetings(task: TaskMetadata) -> None:
    if not task.meetings:
        raise SubmissionError("meetings must not be empty")
    for i, meeting in enumerate(task.meetings):
        if len(meeting.files) != 1:
            raise SubmissionError(
                f"meetings[{i}].files must hold exactly one item, got {len(meeting.files)}"
            )
        file = meeting.files[0]
        if file.baseLanguage not in task.baseLanguages:
            raise SubmissionError(
                f"meetings[{i}].files[0].baseLanguage {file.baseLanguage!r} "
                f"is not in baseLanguages {task.baseLanguages}"
            )


def _check_files(task: TaskMetadata, uploaded: Sequence[str]) -> None:
    if not uploaded:
        raise SubmissionError("no soundBlob part: at least one audio file is required")
    parts = Counter(uploaded)
    for name, n in parts.items():
        if n > 1:
            raise SubmissionError(f"{n} soundBlob parts have the same filename {name!r}")
    named = Counter(meeting.files[0].file for meeting in task.meetings)
    for i, meeting in enumerate(task.meetings):
        name = meeting.files[0].file
        if named[name] > 1:
            raise SubmissionError(f"file {name!r} is named by more than one meeting")
        if name not in parts:
            raise SubmissionError(
                f"meetings[{i}] names file {name!r} but no soundBlob part has that filename"
            )
    for name in uploaded:
        if name not in named:
            raise SubmissionError(f"soundBlob {name!r} is not named by any meeting")


def _check_generic_info(value: str | None) -> None:
    if value is None:
        return
    size = len(value.encode("utf-8"))
    if size > GENERIC_INFO_MAX_BYTES:
        raise SubmissionError(
            f"genericAdditionalInfo is {size} bytes; at most {GENERIC_INFO_MAX_BYTES} allowed"
        )
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise SubmissionError(f"genericAdditionalInfo is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise SubmissionError("genericAdditionalInfo must hold a JSON object")


def validate_submission(
    text: str, uploaded: Sequence[str], realm: str, languages: Sequence[str]
) -> ValidTask:
    """Check a ``task`` field and the uploaded file names against the guide's rules.

    ``uploaded`` lists the filenames of the soundBlob parts in arrival order;
    ``realm`` is the tenant of the caller's token. Returns the parsed task, or
    raises :class:`SubmissionError` naming the first problem found.
    """
    raw = parse_task(text)
    _check_fixed_fields(raw, realm)
    task = _model(raw)
    if task.taskId is not None and not _TASK_ID.fullmatch(task.taskId):
        raise SubmissionError(f"taskId {task.taskId!r} must be 1-64 characters of [A-Za-z0-9_-]")
    _check_languages(task, languages)
    _check_meetings(task)
    _check_files(task, uploaded)
    _check_generic_info(task.genericAdditionalInfo)
    if not _EMAIL.fullmatch(task.supervisor.email):
        raise SubmissionError(f"supervisor.email {task.supervisor.email!r} is not an email address")
    return ValidTask(task, raw)
