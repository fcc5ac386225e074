"""``hrec-ingest fetch`` against the simulator over a real socket, and how it names files."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from oneshot_world import (
    PASSWORD,
    StoppedClock,
    World,
    isolated_process_state,
    json_without_export_time,
    send_task,
    transcript_files,
    world_at,
)

from hrec_ingest.commands.export import (
    MeetingPlan,
    folder_namer,
    transcript_document,
    write_transcripts,
)
from hrec_ingest.commands.fetch import fetch_command
from hrec_ingest.commands.known import look_up, task_block
from hrec_ingest.commands.records import RecordError, load_record, record_path
from hrec_ingest.commands.submit import submit_command
from hrec_ingest.journal import Journal, NewFile
from hrec_ingest.miaop.models import Meeting
from hrec_ingest.pipeline import exporter
from hrec_ingest.pipeline.outcomes import source_doc
from samples.audio import wav


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with isolated_process_state(monkeypatch, tmp_path), world_at(tmp_path) as world:
        yield world


def test_fetch_writes_what_submit_wrote(world: World) -> None:
    world.add_wavs("first.wav", "second.wav")
    submitted = world.invoke(submit_command, "-d", str(world.calls))
    assert submitted.code == 0, submitted.output
    task_id = submitted.stdout.strip()
    again = world.root / "again"

    run = world.invoke(fetch_command, task_id, "--out", str(again))

    assert run.code == 0, run.output
    before, after = transcript_files(world.out / "demo"), transcript_files(again)
    assert (
        set(after)
        == set(before)
        == {
            f"{stem}.{fmt}" for stem in ("first", "second") for fmt in ("json", "txt", "srt", "vtt")
        }
    )
    for name, path in after.items():
        if name.endswith(".json"):
            assert json_without_export_time(path) == json_without_export_time(before[name])
        else:
            assert path.read_bytes() == before[name].read_bytes()
    assert run.stdout.splitlines() == [str(p) for p in sorted(after.values(), key=_order)]
    assert "2 of 2 meeting(s) exported" in run.stderr

    # Fetched once more into the same folder: nothing is overwritten.
    rerun = world.invoke(fetch_command, task_id, "--out", str(again))
    assert rerun.code == 0, rerun.output
    assert f"first.{task_id}.json" in transcript_files(again)


def _order(path: Path) -> tuple[str, int]:
    # Files are listed meeting by meeting, each in EXPORT_FORMATS order.
    stem, fmt = path.name.rsplit(".", 1)
    return stem, ("json", "txt", "srt", "vtt").index(fmt)


def test_fetch_of_an_unknown_task_exits_1_naming_it(world: World) -> None:
    run = world.invoke(fetch_command, "nosuchtask000001")

    assert run.code == 1
    assert "task nosuchtask000001 not found in tenant demo (as user user)" in run.stderr
    assert run.stdout == "" and PASSWORD not in run.output


def test_a_malformed_task_id_is_refused_before_any_request(world: World) -> None:
    run = world.invoke(fetch_command, "../../etc")

    assert run.code == 2
    assert "is not a taskId" in run.stderr
    assert world.sim.state.requests == {}


def test_a_task_known_to_the_daemon_keeps_its_files_names(world: World) -> None:
    audio = wav(world.root / "call.wav", seconds=2)
    st = audio.stat()
    world.state.mkdir()
    journal = Journal.open(world.state)
    task_id = "journaltask00001"
    rows = journal.create_intent(
        task_id,
        "demo",
        "English",
        "Monday's calls",
        [NewFile("demo", "sub/call.wav", st.st_size, st.st_mtime_ns, st.st_ino, "ab" * 32, None)],
    )
    journal.record_post_attempt(task_id, [rows[0].id])
    journal.mark_submitted(task_id, time.time())
    journal.close()
    clock = StoppedClock(world)
    assert send_task(world, [audio], task_id=task_id, names=["call.wav"]) == task_id
    # Done only once fetch has seen it pending: --wait must really wait.
    clock.advance_once(lambda: world.sim.state.count("task", 200) >= 1, 10)

    run = world.invoke(fetch_command, task_id, "--wait")

    assert run.code == 0, run.output
    assert f"task {task_id}: sttPending" in run.stderr and "sttDone after" in run.stderr
    doc = json.loads((world.out / "demo" / "sub" / "call.json").read_text())
    assert doc["source"]["path"] == "sub/call.wav" and doc["source"]["sha256"] == "ab" * 32
    assert doc["task"]["taskName"] == "Monday's calls" and doc["task"]["submittedAt"]


def test_a_task_from_elsewhere_is_named_after_its_task_id(world: World) -> None:
    world.sim.options.error_files = ("broken.wav",)
    clock = StoppedClock(world)
    files = [wav(world.root / "x.wav", seconds=1), wav(world.root / "y.wav", seconds=2)]
    task_id = send_task(world, files, names=["../../../escape.wav", "broken.wav"])
    out = world.root / "fetched"

    early = world.invoke(fetch_command, task_id, "--out", str(out))
    assert early.code == 1
    assert f"task {task_id} is still sttPending" in early.stderr and "--wait" in early.stderr
    assert not out.exists()

    clock.now += 10
    run = world.invoke(fetch_command, task_id, "--out", str(out))

    assert run.code == 3, run.output
    assert set(transcript_files(out)) == {f"{task_id}.1.{f}" for f in ("json", "txt", "srt", "vtt")}
    assert f"2.{task_id}: TranscriptionError: speech-to-text failed for 'broken.wav'" in run.stderr
    assert not (world.root.parent / "escape.json").exists()
    doc = json.loads((out / f"{task_id}.1.json").read_text())
    assert doc["source"] == {
        "tenant": "demo",
        "path": None,
        "name": "../../../escape.wav",
        "size": None,
        "sha256": None,
    }
    assert doc["task"]["taskName"] == "sent from elsewhere"
    assert doc["task"]["baseLanguage"] == "English" and doc["task"]["submittedAt"] is None


def test_the_json_document_is_the_daemons(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    new = NewFile("demo", "a/b.wav", 10, 1, 2, "cd" * 32, {"format": "wav", "channels": 1})
    (row,) = journal.create_intent("t1", "demo", "Hebrew", "name", [new])
    journal.mark_submitted("t1", time.time())
    task = journal.task("t1")
    journal.close()
    assert task is not None
    meeting = Meeting.model_validate(
        {"meetingId": "1.t1", "metadata": {"status": "sttDone", "files": [{"file": "b.wav"}]}}
    )
    raw = [{"Id": "דובר-1", "location": 0, "duration": 900, "text": "שלום", "extra": [1]}]

    ours = transcript_document(source_doc(row), task_block(task), meeting, raw)
    daemons = exporter.transcript_document(row, task, meeting, raw)

    ours.pop("exportedAt"), daemons.pop("exportedAt")
    assert json.dumps(ours) == json.dumps(daemons)  # same keys, same order, same values


def test_taken_names_get_the_tag_and_then_a_counter(tmp_path: Path) -> None:
    (tmp_path / "call.srt").write_text("taken")
    (tmp_path / "call.T1.json").write_text("taken")
    namer = folder_namer(tmp_path, "T1")
    plan = MeetingPlan(1, "call", None, None, "call")

    assert [namer(plan), namer(plan)] == ["call.T1.2", "call.T1.3"]
    assert namer(MeetingPlan(2, "sub/other", None, None, "other")) == "sub/other"
    with pytest.raises(ValueError, match="not a safe transcript name"):
        write_transcripts(tmp_path, "../up", ["txt"], [], {})


def test_only_a_sound_submit_record_is_used(tmp_path: Path) -> None:
    path = record_path(tmp_path, "task00000000001")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"version": 1, "taskId": "someothertask", "tenant": "demo"}))

    with pytest.raises(RecordError, match="another task"):
        load_record(tmp_path, "task00000000001")
    known, notes = look_up(tmp_path, "task00000000001")
    assert known is None and "ignoring the submit record" in notes[0]
    assert look_up(tmp_path, "task00000000002") == (None, [])
