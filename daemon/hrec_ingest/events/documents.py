"""What an event says: the webhook's JSON body and the manifest's JSON line (pure, no I/O).

Both are derived only from the event row (its facts snapshot) and the
folder layout, so building them twice gives the same document. Paths are
relative to their root folder, with ``/`` separators: ``file`` is below the
tenant's inbox (as ``source.path`` in a transcript), ``inbox`` below
FILES_DIR, ``outputs`` below OUTPUT_DIR, ``archived`` below ARCHIVE_DIR and
``failed``/``errorFile`` below FAILED_DIR (these last three start with the
tenant's folder).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from hrec_ingest.events.outbox import FILE_EXPORTED, FILE_FAILED, Event
from hrec_ingest.miaop.models import meeting_id
from hrec_ingest.pipeline.layout import ERROR_SUFFIX, Folders
from hrec_ingest.utctime import iso_millis

# A server's error message can be long; the manifest is for loading into
# tables, where the full text is one click away in <name>.error.json.
MANIFEST_MESSAGE_CHARS = 500


def encode(document: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON: the exact bytes that are signed and sent, or written as a line."""
    try:
        # A tenth of the json module's time, one line per file on the event loop.
        return orjson.dumps(document)
    except orjson.JSONEncodeError:
        # What orjson refuses (integers beyond 64 bits, say) the json module still writes.
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


_EXPORTED_KEYS = ("inbox", "size", "sha256", "meetingId", "outputs", "archived")
_FAILED_KEYS = ("inbox", "size", "sha256", "meetingId", "failed", "errorFile", "stage", "error")


def _inbox_path(folders: Folders, tenant: str, rel_path: str) -> str:
    # What folders.source(...).relative_to(FILES_DIR) names, in string work alone
    # (rel_path is already "/"-separated and clean: the watcher made it).
    return f"{tenant}/{rel_path}" if folders.inbox.multi_tenant else rel_path


def _destinations(event: Event, folders: Folders) -> dict[str, Any]:
    """Where the file's outputs went, relative to their roots; ``None`` where none went."""
    tenant, dest, stem = event.tenant, event.facts.get("destRel"), event.facts.get("outStem")
    where: dict[str, Any] = {"outputs": [], "archived": None, "failed": None, "errorFile": None}
    if event.kind == FILE_EXPORTED:
        if stem is not None:
            where["outputs"] = [f"{tenant}/{stem}.{fmt}" for fmt in folders.export_formats]
        if dest is not None:
            where["archived"] = f"{tenant}/{dest}"
    elif dest is not None:
        where["failed"] = f"{tenant}/{dest}"
        where["errorFile"] = f"{tenant}/{dest}{ERROR_SUFFIX}"
    return where


def _file_facts(event: Event, folders: Folders) -> dict[str, Any]:
    """The fields shared by a file's webhook body and its manifest line."""
    facts = event.facts
    failed = event.kind == FILE_FAILED
    error_doc: dict[str, Any] = (facts.get("error") or {}) if failed else {}
    task_id = error_doc.get("taskId", event.task_id)
    mid = None
    if failed:
        # Only a meeting the server created has an id; a file refused at
        # submission or validation never had one.
        mid = error_doc.get("meetingId")
    elif facts.get("meetingIndex") is not None and task_id is not None:
        mid = meeting_id(int(facts["meetingIndex"]), task_id)
    return {
        "taskId": task_id,
        "file": facts["path"],
        "inbox": _inbox_path(folders, event.tenant, facts["path"]),
        "size": facts["size"],
        "sha256": facts["sha256"],
        "meetingId": mid,
        **_destinations(event, folders),
        "stage": error_doc.get("stage") if failed else None,
        "error": (error_doc.get("error") or {}) if failed else None,
    }


def webhook_document(event: Event, folders: Folders) -> dict[str, Any]:
    """The webhook body of interface.md section 6: ``id``, ``event``, ``tenant``, ``taskId``,
    ``file``, ``at``, then the event's own fields.

    File events add ``inbox``, ``size``, ``sha256``, ``meetingId``, and either
    ``outputs`` and ``archived`` or ``failed``, ``errorFile``, ``stage`` and
    ``error`` (``name``, ``message``, ``errorLevel``). Task events have
    ``file: null`` and add ``taskName``, ``language``, ``files`` (paths below
    the tenant's inbox, in meeting order) and ``count``; ``task.error`` adds
    the server's ``error`` text when it gave one.
    """
    head: dict[str, Any] = {
        "id": event.event_id,
        "event": event.kind,
        "tenant": event.tenant,
        "taskId": event.task_id,
        "file": None,
        "at": iso_millis(event.at),
    }
    facts = event.facts
    if event.kind in (FILE_EXPORTED, FILE_FAILED):
        details = _file_facts(event, folders)
        head["taskId"] = details.pop("taskId")
        head["file"] = details.pop("file")
        keep = _EXPORTED_KEYS if event.kind == FILE_EXPORTED else _FAILED_KEYS
        return head | {key: details[key] for key in keep}
    files = list(facts.get("files") or [])
    body = head | {
        "taskName": facts.get("taskName"),
        "language": facts.get("language"),
        "files": files,
        "count": len(files),
    }
    if facts.get("error") is not None:
        body["error"] = facts["error"]
    return body


def webhook_body(event: Event, folders: Folders) -> bytes:
    """The bytes POSTed for ``event`` (and signed)."""
    return encode(webhook_document(event, folders))


def manifest_record(event: Event, folders: Folders) -> dict[str, Any]:
    """One manifest line for a file event: the same keys on every line, ``null`` when not known.

    Keys: ``id`` (the event id), ``tenant``, ``file``, ``inbox``, ``size``,
    ``sha256``, ``taskId``, ``meetingId``, ``outcome`` (``exported`` or
    ``failed``), ``outputs``, ``archived``, ``failed``, ``stage``, ``error``
    (the error's name), ``errorMessage`` and ``at``.
    """
    if event.kind not in (FILE_EXPORTED, FILE_FAILED):
        raise ValueError(f"{event.kind} events have no manifest line")
    details = _file_facts(event, folders)
    error = details["error"]
    message = error.get("message") if error else None
    return {
        "id": event.event_id,
        "tenant": event.tenant,
        "file": details["file"],
        "inbox": details["inbox"],
        "size": details["size"],
        "sha256": details["sha256"],
        "taskId": details["taskId"],
        "meetingId": details["meetingId"],
        "outcome": "exported" if event.kind == FILE_EXPORTED else "failed",
        "outputs": details["outputs"],
        "archived": details["archived"],
        "failed": details["failed"],
        "stage": details["stage"],
        "error": error.get("name") if error else None,
        "errorMessage": message[:MANIFEST_MESSAGE_CHARS] if isinstance(message, str) else None,
        "at": iso_millis(event.at),
    }
