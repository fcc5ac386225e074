"""What a batch looks like on the wire: upload names and the task JSON (guide 2.2.1, 3.4.1)."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Sequence
from datetime import datetime

from hrec_ingest.miaop.models import MeetingDesc, MeetingFile, SupervisorInfo, TaskMetadata

_TASK_ID_ALPHABET = string.ascii_lowercase + string.digits
_UNBIASED_BELOW = 256 - 256 % len(_TASK_ID_ALPHABET)  # 252
_UNSAFE_IN_PART_NAME = re.compile(r'[\x00-\x1f\x7f"\\/]')


def new_task_id() -> str:
    """A taskId in the server's own style (16 of [a-z0-9], about 82 random bits).

    The daemon chooses it so that, after a crash, it can ask the server whether
    the task exists instead of guessing (guide 2.2.1.1 allows this).
    """
    # One read of the system's randomness, not one per character (secrets.choice asks
    # the kernel each time); bytes past the last whole multiple of 36 are skipped so
    # that every character stays equally likely.
    chars: list[str] = []
    while len(chars) < 16:
        chars += (
            _TASK_ID_ALPHABET[byte % len(_TASK_ID_ALPHABET)]
            for byte in secrets.token_bytes(24)
            if byte < _UNBIASED_BELOW
        )
    return "".join(chars[:16])


def upload_names(rel_paths: Sequence[str]) -> list[str]:
    """The multipart filename of each file of a task, unique within the task.

    The server matches each meeting's ``file`` to a part by name, so two files
    called ``call.wav`` from different sub-folders must not share one; control
    characters and quotes would break the Content-Disposition header. The
    result depends only on the input, so a resent task uses the same names.
    """
    names: list[str] = []
    used: set[str] = set()
    for index, rel_path in enumerate(rel_paths, start=1):
        base = _UNSAFE_IN_PART_NAME.sub("_", rel_path.rsplit("/", 1)[-1]) or "audio"
        name = base
        if name in used:
            name = f"{index}-{base}"
        while name in used:
            name = f"{index}-{name}"
        used.add(name)
        names.append(name)
    return names


class _KeepUnknown(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_task_name(
    template: str, *, tenant: str, when: datetime, first_file: str, count: int
) -> str:
    """TASK_NAME with ``{tenant}``, ``{date}``, ``{first_file}`` and ``{count}`` filled in.

    Unknown placeholders are left as written rather than failing a batch.
    """
    values = _KeepUnknown(
        tenant=tenant, date=when.strftime("%Y-%m-%d"), first_file=first_file, count=str(count)
    )
    try:
        return template.format_map(values)
    except (ValueError, IndexError):
        return template


def task_metadata(
    *,
    task_id: str,
    tenant: str,
    task_name: str,
    language: str,
    file_names: Sequence[str],
    supervisor_email: str,
    supervisor_name: str,
    generic_additional_info: str | None,
    now: datetime,
) -> TaskMetadata:
    """The ``task`` form field, shaped exactly as the guide's 2.2.1 and example 3.4.1."""
    stamp = now.strftime("%d.%m.%Y %H:%M")  # the format of the guide's example
    return TaskMetadata(
        taskId=task_id,
        tenant=tenant,
        taskName=task_name,
        taskType="offline",
        taskCreationTime=stamp,
        taskUpdateTime=stamp,
        taskStatus="sttPending",
        baseLanguages=[language],
        genericAdditionalInfo=generic_additional_info,
        meetings=[
            MeetingDesc(
                files=[MeetingFile(file=name, baseLanguage=language)], aiGenerationMode="auto"
            )
            for name in file_names
        ],
        docSections=[],
        supervisor=SupervisorInfo(name=supervisor_name, email=supervisor_email),
    )
