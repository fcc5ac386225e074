"""Signing and the shape of what events say: webhook bodies and manifest lines (pure)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from event_samples import failure, make_folders

from hrec_ingest.events.documents import (
    manifest_record,
    webhook_body,
    webhook_document,
)
from hrec_ingest.events.outbox import Event
from hrec_ingest.events.signing import signature, verify
from hrec_ingest.pipeline.layout import Folders

pytestmark = pytest.mark.timeout(30)

AT = 1795252800.25  # 2026-11-21T09:20:00.250Z
MANIFEST_KEYS = [
    "id",
    "tenant",
    "file",
    "inbox",
    "size",
    "sha256",
    "taskId",
    "meetingId",
    "outcome",
    "outputs",
    "archived",
    "failed",
    "stage",
    "error",
    "errorMessage",
    "at",
]


def exported(rel: str = "sub/call.wav", stem: str = "sub/call") -> Event:
    facts = {
        "path": rel,
        "size": 1234,
        "sha256": "ab" * 32,
        "meetingIndex": 2,
        "outStem": stem,
        "destKind": "archive",
        "destRel": rel,
        "error": None,
    }
    return Event(1, "e" * 32, "file.exported", "demo", "T1", 7, facts, AT)


def failed(error: dict[str, object] | None = None) -> Event:
    facts = {
        "path": "bad.wav",
        "size": 9,
        "sha256": "cd" * 32,
        "meetingIndex": 1,
        "outStem": None,
        "destKind": "failed",
        "destRel": "bad.T1.wav",
        "error": failure("T1", 1) if error is None else error,
    }
    return Event(2, "f" * 32, "file.failed", "demo", "T1", 8, facts, AT)


def task_event(kind: str, error: str | None = None) -> Event:
    facts = {"taskName": "Calls", "language": "Hebrew", "error": error, "files": ["a.wav", "b.wav"]}
    return Event(3, "a" * 32, kind, "demo", "T1", None, facts, AT)


def test_signature_is_hmac_sha256_of_the_exact_bytes() -> None:
    body = '{"event":"task.done","tenant":"דמו"}'.encode()
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert signature(body, "k3y") == f"sha256={expected}"
    assert verify(body, "k3y", f"sha256={expected}")
    assert not verify(body + b" ", "k3y", f"sha256={expected}")  # one byte more
    assert not verify(body, "other", f"sha256={expected}")
    assert not verify(body, "k3y", expected)  # the prefix is part of the value
    assert not verify(body, "k3y", None)


def test_exported_file_body(folders: Folders) -> None:
    body = webhook_document(exported(), folders)
    assert body == {
        "id": "e" * 32,
        "event": "file.exported",
        "tenant": "demo",
        "taskId": "T1",
        "file": "sub/call.wav",
        "at": "2026-11-21T09:20:00.250Z",
        "inbox": "sub/call.wav",
        "size": 1234,
        "sha256": "ab" * 32,
        "meetingId": "2.T1",
        "outputs": [f"demo/sub/call.{fmt}" for fmt in ("json", "txt", "srt", "vtt")],
        "archived": "demo/sub/call.wav",
    }
    assert list(body)[:6] == ["id", "event", "tenant", "taskId", "file", "at"]


def test_inbox_path_names_the_tenant_folder_in_multi_tenant_mode(tmp_path: Path) -> None:
    body = webhook_document(exported(), make_folders(tmp_path, multi_tenant=True))
    assert body["file"] == "sub/call.wav"
    assert body["inbox"] == "demo/sub/call.wav"


def test_failed_file_body(folders: Folders) -> None:
    body = webhook_document(failed(), folders)
    assert body["event"] == "file.failed"
    assert body["meetingId"] == "1.T1"
    assert body["failed"] == "demo/bad.T1.wav"
    assert body["errorFile"] == "demo/bad.T1.wav.error.json"
    assert body["stage"] == "process"
    assert body["error"] == {
        "name": "SttError",
        "message": "no speech found",
        "errorLevel": "critical",
    }
    assert "outputs" not in body and "archived" not in body


def test_file_refused_before_any_meeting_has_no_meeting_id(folders: Folders) -> None:
    error: dict[str, object] = {
        "stage": "validate",
        "error": {"name": "NotAudio", "message": "not audio"},
        "taskId": None,
        "meetingId": None,
    }
    body = webhook_document(failed(error), folders)
    assert body["taskId"] is None and body["meetingId"] is None
    assert body["stage"] == "validate"


@pytest.mark.parametrize("kind", ["task.submitted", "task.done", "task.error"])
def test_task_bodies(folders: Folders, kind: str) -> None:
    error = "engine unavailable" if kind == "task.error" else None
    body = webhook_document(task_event(kind, error), folders)
    assert body["event"] == kind and body["file"] is None and body["taskId"] == "T1"
    assert body["files"] == ["a.wav", "b.wav"] and body["count"] == 2
    assert body["taskName"] == "Calls" and body["language"] == "Hebrew"
    assert body.get("error") == error


def test_body_bytes_are_compact_utf8_and_stable(folders: Folders) -> None:
    event = exported(rel="שיחה.wav", stem="שיחה")
    body = webhook_body(event, folders)
    assert body == webhook_body(event, folders)
    assert "שיחה".encode() in body  # not \u-escaped
    assert b": " not in body and b", " not in body
    assert json.loads(body)["file"] == "שיחה.wav"


def test_manifest_lines_have_the_same_keys_for_both_outcomes(folders: Folders) -> None:
    good = manifest_record(exported(), folders)
    bad = manifest_record(failed(), folders)
    assert list(good) == MANIFEST_KEYS and list(bad) == MANIFEST_KEYS
    assert good["outcome"] == "exported" and good["error"] is None and good["failed"] is None
    assert good["archived"] == "demo/sub/call.wav" and len(good["outputs"]) == 4
    assert bad["outcome"] == "failed" and bad["error"] == "SttError"
    assert bad["errorMessage"] == "no speech found" and bad["outputs"] == []
    assert bad["failed"] == "demo/bad.T1.wav" and bad["archived"] is None


def test_manifest_keeps_long_messages_short(folders: Folders) -> None:
    error = failure("T1", 1)
    error["error"] = {"name": "X", "message": "m" * 5000}
    record = manifest_record(failed(error), folders)
    assert len(record["errorMessage"]) == 500


def test_task_events_have_no_manifest_line(folders: Folders) -> None:
    with pytest.raises(ValueError, match="no manifest line"):
        manifest_record(task_event("task.done"), folders)
