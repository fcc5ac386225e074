"""``hrec-ingest submit`` against the simulator over a real socket, run as a user runs it."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from oneshot_world import (
    PASSWORD,
    World,
    finish,
    isolated_process_state,
    read_line,
    transcript_files,
    world_at,
)

from hrec_ingest.commands.records import load_record
from hrec_ingest.commands.submit import submit_command

FORMATS = ("json", "txt", "srt", "vtt")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with isolated_process_state(monkeypatch, tmp_path), world_at(tmp_path) as world:
        yield world


def test_a_folder_becomes_one_task_and_its_transcripts(world: World) -> None:
    digests = world.add_wavs("a.wav", "b.wav", "c.wav")
    (world.calls / ".partial-copy.wav").write_bytes(b"still being written")
    (world.calls / "older").mkdir()
    before = {p.name: p.read_bytes() for p in world.calls.iterdir() if p.is_file()}

    # A real process: its standard output must be the taskId and nothing else.
    run = world.run("submit", "-d", str(world.calls), "--tn", "Calls of {date}")

    assert run.code == 0, run.output
    task_id = run.stdout.strip()
    assert run.stdout == f"{task_id}\n"
    assert list(world.sim.state.tasks) == [task_id]
    task = world.task(task_id)
    assert {f.name: f.sha256 for f in task.files} == digests
    assert task.task_name.startswith("Calls of 20")
    written = transcript_files(world.out / "demo")
    assert set(written) == {f"{s}.{fmt}" for s in ("a", "b", "c") for fmt in FORMATS}
    doc = json.loads(written["b.json"].read_text())
    assert doc["source"]["sha256"] == digests["b.wav"]
    assert doc["source"]["path"] == "b.wav" and doc["source"]["format"] == "wav"
    assert doc["task"]["taskId"] == task_id and doc["task"]["submittedAt"]
    assert doc["meeting"]["meetingId"] == f"2.{task_id}"
    assert doc["meeting"]["status"] == "sttDone" and doc["transcription"]
    # The folder is the user's: nothing moved, nothing changed, nothing added.
    assert {p.name: p.read_bytes() for p in world.calls.iterdir() if p.is_file()} == before
    record = load_record(world.state, task_id)
    assert record is not None and record.sources[3]["name"] == "c.wav"
    # Off a terminal: a line per phase, not per chunk or per poll.
    assert len(run.stderr.splitlines()) < 20, run.stderr
    assert "uploading 3 file(s)" in run.stderr and "sttDone after" in run.stderr
    assert PASSWORD not in run.output


def test_files_that_are_not_audio_are_reported_and_not_sent(world: World) -> None:
    digests = world.add_wavs("one.wav", "two.wav")
    (world.calls / "notes.txt").write_text("minutes of the meeting\n")
    (world.calls / "empty.wav").write_bytes(b"")

    run = world.invoke(submit_command, "-d", str(world.calls))

    assert run.code == 3, run.output
    task_id = run.stdout.strip()
    assert {f.name: f.sha256 for f in world.task(task_id).files} == digests
    assert "notes.txt: NotAudio" in run.stderr
    assert "empty.wav: EmptyFile" in run.stderr
    assert "2 of 4 file(s) transcribed, 2 failed" in run.stderr
    written = transcript_files(world.out / "demo")
    assert {name.rsplit(".", 1)[0] for name in written} == {"one", "two"}


def test_a_meeting_in_error_exits_3_with_the_servers_reason(world: World) -> None:
    world.sim.options.error_files = ("bad.wav",)
    world.add_wavs("good.wav", "bad.wav", "fine.wav")

    run = world.invoke(submit_command, "-d", str(world.calls))

    assert run.code == 3, run.output
    assert "bad.wav: TranscriptionError: speech-to-text failed for 'bad.wav'" in run.stderr
    written = transcript_files(world.out / "demo")
    assert "good.json" in written and "fine.json" in written
    assert not any(name.startswith("bad.") for name in written)


def test_names_already_taken_get_the_task_id(world: World) -> None:
    world.add_wavs("a.wav", "a.mp3.wav")
    (world.out / "demo").mkdir(parents=True)
    (world.out / "demo" / "a.txt").write_text("someone else's\n")

    run = world.invoke(submit_command, "-d", str(world.calls))

    assert run.code == 0, run.output
    task_id = run.stdout.strip()
    written = transcript_files(world.out / "demo")
    assert f"a.{task_id}.json" in written and "a.mp3.json" in written
    assert (world.out / "demo" / "a.txt").read_text() == "someone else's\n"


def test_with_several_tenants_the_flags_choose_one_and_beat_its_table(world: World) -> None:
    world.sim.options.users["acme"] = {"carol": PASSWORD}
    tenants = world.root / "tenants.toml"
    tenants.write_text(
        '[tenants.acme]\nUSERNAME = "bob"\nBASE_LANGUAGE = "Hebrew"\n'
        '[tenants.globex]\nUSERNAME = "alice"\n'
    )
    world.settings["TENANTS_FILE"] = str(tenants)
    world.add_wavs("a.wav")

    wrong = world.invoke(submit_command, "-d", str(world.calls))
    assert wrong.code == 2
    assert "TENANT: demo is not a tenant of TENANTS_FILE (it has acme, globex)" in wrong.stderr
    del world.settings["TENANT"]
    unsure = world.invoke(submit_command, "-d", str(world.calls))
    assert unsure.code == 2
    assert "TENANT: choose one of acme, globex with -t" in unsure.stderr

    run = world.invoke(submit_command, "-d", str(world.calls), "-t", "acme", "-u", "carol")

    assert run.code == 0, run.output
    task = world.task(run.stdout.strip())
    assert task.tenant == "acme" and task.base_languages == ["Hebrew"]
    assert "a.json" in transcript_files(world.out / "acme")
    assert not (world.calls / "acme").exists()  # -d is the folder itself, not an inbox


def test_a_wrong_password_is_fatal_and_never_shown(world: World) -> None:
    world.add_wavs("a.wav")
    wrong = "Not-The-Password-55"

    run = world.invoke(submit_command, "-d", str(world.calls), "-p", wrong)

    assert run.code == 1, run.output
    assert run.stdout == ""
    assert "Keycloak refused the user name or password of 'user'" in run.stderr
    assert "check USERNAME and PASSWORD" in run.stderr and "flag -p" in run.stderr
    assert wrong not in run.output and PASSWORD not in run.output
    assert world.sim.state.tasks == {}


def test_a_folder_without_audio_is_fatal(world: World) -> None:
    world.calls.mkdir()
    (world.calls / "readme.txt").write_text("no audio here\n")

    run = world.invoke(submit_command, "-d", str(world.calls))

    assert run.code == 1, run.output
    assert f"nothing to send in {world.calls}: none of its files is audio" in run.stderr
    assert world.sim.state.tasks == {}


def test_bad_gai_json_exits_2_naming_the_flag(world: World) -> None:
    run = world.invoke(submit_command, "-d", str(world.root), "--gai", "{not json")

    assert run.code == 2
    assert "GENERIC_ADDITIONAL_INFO" in run.stderr and "(flag --gai)" in run.stderr
    assert run.stdout == ""
    assert world.sim.state.tasks == {}


def test_ctrl_c_while_waiting_names_the_task_to_fetch_later(world: World) -> None:
    world.sim.options.processing_seconds = 60
    world.add_wavs("a.wav")

    proc = world.popen("submit", "-d", str(world.calls), "-t", "demo")
    task_id = read_line(proc)
    proc.send_signal(signal.SIGINT)
    run = finish(proc)

    assert run.code == 1, run.output
    assert task_id in world.sim.state.tasks
    assert f"task {task_id} goes on on the server" in run.stderr
    assert f"hrec-ingest fetch {task_id} --config {world.config} --tenant demo" in run.stderr


def test_a_task_the_server_refuses_is_fatal_and_forgotten(world: World) -> None:
    world.add_wavs("a.wav")

    run = world.invoke(submit_command, "-d", str(world.calls), "-l", "Klingon")

    assert run.code == 1, run.output
    assert run.stdout == ""
    assert "was not created" in run.stderr and "Klingon" in run.stderr
    assert world.sim.state.tasks == {}
    assert not list((world.state / "submit").glob("*.json"))


def test_transcripts_follow_the_umask_setting(world: World) -> None:
    world.add_wavs("a.wav")
    world.settings["UMASK"] = "0077"
    run = world.run("submit", "-d", str(world.calls))
    assert run.code == 0, run.output
    written = transcript_files(world.out / "demo")
    assert {oct(p.stat().st_mode & 0o777) for p in written.values()} == {"0o600"}
    assert oct((world.out / "demo").stat().st_mode & 0o777) == "0o700"
