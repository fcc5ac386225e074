"""``hrec-ingest status``: a real journal on disk, read as the command line reads it."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from command_site import PASSWORD, Site, make_site

from hrec_ingest.cli import main
from hrec_ingest.commands.status import status_command
from hrec_ingest.commands.status_table import duration
from hrec_ingest.journal import FileState, Journal, NewFile


def _new(rel_path: str, tenant: str = "demo") -> NewFile:
    return NewFile(tenant, rel_path, 1000, 1, 2, "cd" * 32, {"format": "wav"})


def _status_json(site: Site) -> dict[str, Any]:
    result = site.invoke(status_command, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    return document


def _digest_of_state(site: Site) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(site.state.iterdir())
    }


def test_without_a_journal_it_says_so_and_creates_none(site: Site) -> None:
    result = site.invoke(status_command)
    assert result.exit_code == 0, result.output
    assert "No journal yet" in result.stdout
    document = _status_json(site)
    assert document["journal"] == {"path": str(site.state / "journal.sqlite3"), "found": False}
    assert document["tasksInFlight"] == [] and document["recentFailures"] == []
    assert document["files"]["byTenant"]["demo"]["archived"] == 0
    assert not site.state.exists() or list(site.state.iterdir()) == []


def test_creates_no_folder_so_a_read_only_operator_can_ask(tmp_path: Path) -> None:
    (tmp_path / "fresh").mkdir()
    site = make_site(tmp_path / "fresh")
    result = site.invoke(status_command, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["journal"]["found"] is False
    assert sorted(p.name for p in site.root.iterdir()) == ["config.env"]


async def test_json_reports_files_tasks_waiting_and_failures(site: Site) -> None:
    journal = site.journal()
    (a, _) = journal.create_intent("T1", "demo", "English", "Task", [_new("a.wav"), _new("b.wav")])
    now = time.time()
    journal.mark_submitted("T1", next_poll_at=now + 30)
    journal.update_poll(
        "T1",
        server_status="sttProcessing",
        remaining_seconds=40,
        next_poll_at=now + 30,
        poll_errors=0,
    )
    journal.create_intent("T2", "demo", "English", "Task", [_new("c.wav")])
    failed = await site.fail(journal, "sub/bad.wav", message="no RIFF header")
    journal.close()

    document = _status_json(site)
    assert document["version"] == 1 and document["journal"]["found"] is True
    totals = document["files"]["total"]
    assert (totals["submitted"], totals["batched"], totals["failed"]) == (2, 1, 1)
    assert set(totals) == {str(s) for s in FileState}
    tasks = {t["taskId"]: t for t in document["tasksInFlight"]}
    assert set(tasks) == {"T1", "T2"}
    t1 = tasks["T1"]
    assert (t1["state"], t1["serverStatus"], t1["sttRemainingTime"], t1["files"]) == (
        "submitted",
        "sttProcessing",
        40,
        2,
    )
    assert 20 < t1["nextPollInSeconds"] <= 30 and t1["ageSeconds"] >= 0
    assert tasks["T2"]["serverStatus"] is None and tasks["T2"]["state"] == "intent"
    waiting = document["oldestWaiting"]
    assert (waiting["path"], waiting["taskId"]) == (a.rel_path, "T1")
    (failure,) = document["recentFailures"]
    assert failure["path"] == "sub/bad.wav" and failure["stage"] == "validate"
    assert failure["error"]["name"] == "NotAudio"
    assert failure["error"]["message"] == "no RIFF header"
    assert failure["failedPath"] == str(site.failed / "demo" / "sub" / "bad.wav")
    assert Path(failure["failedPath"]).exists() and Path(failure["errorFile"]).exists()
    assert failed.dest_rel == "sub/bad.wav"


async def test_table_answers_the_same_questions(site: Site) -> None:
    journal = site.journal()
    journal.create_intent("T1", "demo", "English", "Task", [_new("a.wav")])
    journal.mark_submitted("T1", next_poll_at=time.time() + 30)
    await site.fail(journal, "bad.wav", message="no RIFF header")
    journal.close()

    result = site.invoke(status_command)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Files by state:" in text and "SUBMITTED" in text and "FAILED" in text
    assert "Tasks in flight: 1" in text and "T1" in text
    assert "Oldest waiting file: demo/a.wav (submitted, task T1)" in text
    assert "demo/bad.wav  [stage validate]  NotAudio: no RIFF header" in text
    assert f"audio: {site.failed / 'demo' / 'bad.wav'}" in text
    assert "hrec-ingest retry" in text


async def test_secrets_in_failure_messages_are_masked(site: Site) -> None:
    journal = site.journal()
    await site.fail(journal, "a.wav", message=f"login refused for user with {PASSWORD}")
    await site.fail(journal, "b.wav", message="upstream said password=hunter2222 oops")
    journal.close()
    for args in ([], ["--json"]):
        result = site.invoke(status_command, *args)
        assert result.exit_code == 0, result.output
        assert PASSWORD not in result.output and "hunter2222" not in result.output
        assert "[REDACTED]" in result.output


def test_reads_while_another_connection_holds_the_write_lock(site: Site) -> None:
    journal = site.journal()
    journal.create_intent("T1", "demo", "English", "Task", [_new("a.wav")])
    daemon = sqlite3.connect(site.state / "journal.sqlite3", isolation_level=None)
    daemon.execute("BEGIN IMMEDIATE")
    daemon.execute("UPDATE tasks SET state = 'submitted'")
    try:
        started = time.monotonic()
        document = _status_json(site)
        assert time.monotonic() - started < 3
        # What is not committed is not seen; what is committed is.
        assert [t["state"] for t in document["tasksInFlight"]] == ["intent"]
    finally:
        daemon.execute("ROLLBACK")
        daemon.close()
        journal.close()


def test_never_writes_to_the_journal(site: Site) -> None:
    journal = site.journal()
    journal.create_intent("T1", "demo", "English", "Task", [_new("a.wav")])
    journal.close()  # the last connection closed: no -wal, no -shm left
    before = _digest_of_state(site)
    assert list(before) == ["journal.sqlite3"]
    for args in ([], ["--json"]):
        assert site.invoke(status_command, *args).exit_code == 0
    assert _digest_of_state(site) == before


def test_a_journal_being_created_right_now_counts_as_none_yet(site: Site) -> None:
    site.state.mkdir(parents=True, exist_ok=True)
    creating = sqlite3.connect(site.state / "journal.sqlite3", isolation_level=None)
    creating.execute("PRAGMA journal_mode=WAL")  # the file exists; its tables do not yet
    try:
        result = site.invoke(status_command)
        assert result.exit_code == 0, result.output
        assert "No journal yet" in result.stdout
        # The tables are committed, the version row not yet.
        creating.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        creating.execute("CREATE TABLE tasks (task_id TEXT)")
        creating.execute("CREATE TABLE files (id INTEGER)")
        result = site.invoke(status_command, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["journal"]["found"] is False
    finally:
        creating.close()


def test_a_foreign_database_is_refused_with_exit_1(site: Site) -> None:
    site.state.mkdir(parents=True, exist_ok=True)
    other = sqlite3.connect(site.state / "journal.sqlite3")
    other.execute("CREATE TABLE something (x)")
    other.commit()
    other.close()
    result = site.invoke(status_command)
    assert result.exit_code == 1
    assert "is not an hrec-ingest journal" in result.stderr


def test_inbox_folders_no_tenant_owns_are_listed(site: Site) -> None:
    tenants = site.root / "tenants.toml"
    tenants.write_text('[tenants.demo]\n[tenants.acme]\nBASE_LANGUAGE = "Hebrew"\n')
    del site.settings_text["TENANT"]
    site.settings_text["TENANTS_FILE"] = str(tenants)
    for folder in ("demo", "acme", "stranger", ".hidden"):
        (site.inbox / folder).mkdir(parents=True, exist_ok=True)
    (site.inbox / "loose.wav").write_bytes(b"x")
    Journal.open(site.settings().state_dir).close()

    document = _status_json(site)
    assert document["unknownTenantFolders"] == ["loose.wav", "stranger"]
    assert set(document["files"]["byTenant"]) == {"acme", "demo"}
    text = site.invoke(status_command).stdout
    assert "Inbox folders no tenant owns (left untouched): loose.wav, stranger" in text


def test_help_says_what_it_does_with_an_example() -> None:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["status", "--help"])
    assert result.exit_code == 0
    assert "files per state" in result.output and "Example: hrec-ingest status" in result.output


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59.9, "59s"), (61, "1m01s"), (7380, "2h03m"), (3 * 86400 + 7200, "3d02h")],
)
def test_durations_read_short(seconds: float, text: str) -> None:
    assert duration(seconds) == text
