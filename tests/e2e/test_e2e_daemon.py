"""The daemon end to end: real process, real folders, the simulator over loopback."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from harness import Deployment, make_wav, sha256, visible_files, wait_for

FORMATS = ("json", "txt", "srt", "vtt")


def assert_exported_once(d: Deployment, tenant: str, drops: dict[str, bytes]) -> None:
    """Each dropped file: transcripts once, audio archived intact, bytes in exactly one task."""
    for rel, data in drops.items():
        stem = rel.rsplit(".", 1)[0]
        for fmt in FORMATS:
            assert (d.out / tenant / f"{stem}.{fmt}").is_file(), f"{stem}.{fmt} missing"
        document = json.loads((d.out / tenant / f"{stem}.json").read_text())
        assert document["source"]["sha256"] == sha256(data)
        assert document["source"]["path"] == rel
        assert document["transcription"], "empty transcription"
        assert (d.archive / tenant / rel).read_bytes() == data
        assert d.uploads_of(sha256(data)) == 1, f"{rel} sent {d.uploads_of(sha256(data))} times"
    jsons = [p for p in visible_files(d.out / tenant) if p.suffix == ".json"]
    assert len(jsons) == len(drops), "a file was exported more than once"


async def test_happy_path_many_files_in_sub_folders(deployment: Deployment) -> None:
    d = deployment
    d.settings["BATCH_MAX_FILES"] = "4"
    drops: dict[str, bytes] = {}
    for i in range(10):
        rel = f"{'sub/deeper/' if i % 3 == 0 else 'sub/' if i % 3 == 1 else ''}call-{i}.wav"
        drops[rel] = make_wav(d.inbox / rel, seconds=0.5 + i / 10, seed=i)
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == len(drops), 60, "all archived")
    assert_exported_once(d, "demo", drops)
    assert visible_files(d.inbox) == []
    assert len(d.sim.state.tasks) >= 3  # BATCH_MAX_FILES=4 for 10 files
    assert await d.stop(daemon) == 0


async def test_file_written_slowly_is_not_sent_early(deployment: Deployment) -> None:
    d = deployment
    d.settings["STABLE_SECONDS"] = "1.0"
    daemon = d.start()
    source = d.root / "source.wav"
    data = make_wav(source, seconds=3, seed=99)
    target = d.inbox / "slow.wav"
    d.inbox.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as out:
        chunk = len(data) // 10 + 1
        for start in range(0, len(data), chunk):
            out.write(data[start : start + chunk])
            out.flush()
            await asyncio.sleep(0.3)  # a slow copy: 3 s in all, longer than STABLE_SECONDS
    await wait_for(lambda: (d.archive / "demo" / "slow.wav").exists(), 30, "slow.wav archived")
    assert d.uploads_of(sha256(data)) == 1  # the complete bytes, in one task
    assert sum(len(t.files) for t in d.sim.state.tasks.values()) == 1
    assert await d.stop(daemon) == 0


async def test_rsync_temporary_name_is_sent_once_under_its_final_name(
    deployment: Deployment,
) -> None:
    d = deployment
    daemon = d.start()
    temporary = d.inbox / ".call.wav.Xa81Fz"
    data = make_wav(temporary, seconds=1, seed=5)
    await asyncio.sleep(1.5)  # longer than STABLE_SECONDS: a hidden name is never taken
    assert d.sim.state.tasks == {}
    os.rename(temporary, d.inbox / "call.wav")
    await wait_for(lambda: (d.archive / "demo" / "call.wav").exists(), 30, "call.wav archived")
    (task,) = d.sim.state.tasks.values()
    assert [f.name for f in task.files] == ["call.wav"]
    assert d.uploads_of(sha256(data)) == 1
    assert await d.stop(daemon) == 0


async def test_same_name_twice_gets_the_task_id(deployment: Deployment) -> None:
    d = deployment
    daemon = d.start()
    first = make_wav(d.inbox / "call.wav", seed=1)
    # Gone from the inbox too: the archive's name appears (a link) before the inbox's goes.
    await wait_for(
        lambda: (d.archive / "demo" / "call.wav").exists() and not (d.inbox / "call.wav").exists(),
        30,
        "first archived",
    )
    second = make_wav(d.inbox / "call.wav", seed=2)
    await wait_for(lambda: len(visible_files(d.archive)) == 2, 30, "second archived")
    (other,) = [p for p in visible_files(d.archive / "demo") if p.name != "call.wav"]
    task_id = other.name.split(".")[1]
    assert other.name == f"call.{task_id}.wav" and task_id in d.sim.state.tasks
    assert other.read_bytes() == second
    assert (d.archive / "demo" / "call.wav").read_bytes() == first
    for fmt in FORMATS:
        assert (d.out / "demo" / f"call.{fmt}").is_file()
        assert (d.out / "demo" / f"call.{task_id}.{fmt}").is_file()
    assert await d.stop(daemon) == 0


async def test_bad_files_fail_at_validate_and_good_ones_go_on(deployment: Deployment) -> None:
    d = deployment
    d.inbox.mkdir(parents=True)
    (d.inbox / "empty.wav").write_bytes(b"")
    (d.inbox / "text.wav").write_text("<!DOCTYPE html> not audio at all\n")
    good = make_wav(d.inbox / "good.wav", seed=3)
    daemon = d.start()
    await wait_for(lambda: (d.archive / "demo" / "good.wav").exists(), 30, "good archived")
    await wait_for(lambda: len(visible_files(d.failed)) == 4, 30, "two failures with reasons")
    for name in ("empty.wav", "text.wav"):
        reason = json.loads((d.failed / "demo" / f"{name}.error.json").read_text())
        assert reason["stage"] == "validate"
        assert reason["error"]["message"]
        assert reason["source"]["name"] == name
    assert d.uploads_of(sha256(good)) == 1
    assert len(d.sim.state.tasks) == 1  # nothing bad was sent
    assert await d.stop(daemon) == 0


async def test_every_audio_format_is_taken_by_content(deployment: Deployment) -> None:
    from samples.audio import adts_frames, asf, flac, id3, mp4, mpeg_frames, opus, vorbis, webm

    d = deployment
    d.inbox.mkdir(parents=True)
    drops = {
        "a.mp3": id3() + mpeg_frames(40),
        "b.flac": flac(),
        "c.opus": opus(),
        "d.ogg": vorbis(),
        "e.m4a": mp4(),
        "f.aac": adts_frames(40),
        "g.wma": asf(),
        "h.webm": webm(),
        "i.wav": make_wav(d.root / "i.wav", seed=1),
    }
    for name, data in drops.items():
        (d.inbox / name).write_bytes(data)
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == len(drops), 30, "all archived")
    formats = {}
    for name, data in drops.items():
        document = json.loads((d.out / "demo" / f"{name.rsplit('.', 1)[0]}.json").read_text())
        assert document["source"]["sha256"] == sha256(data)
        formats[name] = document["source"]["format"]
    assert formats == {
        "a.mp3": "mp3",
        "b.flac": "flac",
        "c.opus": "opus",
        "d.ogg": "ogg",
        "e.m4a": "m4a",
        "f.aac": "aac",
        "g.wma": "wma",
        "h.webm": "webm",
        "i.wav": "wav",
    }
    assert visible_files(d.failed) == []
    assert await d.stop(daemon) == 0


async def test_file_changed_or_deleted_before_sending_is_dropped_then_retaken(
    deployment: Deployment,
) -> None:
    d = deployment
    d.settings["BATCH_MAX_WAIT_SECONDS"] = "4"  # files wait in the open batch meanwhile
    stays = make_wav(d.inbox / "stays.wav", seed=1)
    make_wav(d.inbox / "deleted.wav", seed=2)
    make_wav(d.inbox / "rewritten.wav", seed=3)
    daemon = d.start()
    await wait_for(lambda: (d.state / "journal.sqlite3").exists(), 10, "the daemon to start")
    await asyncio.sleep(1.5)  # past STABLE_SECONDS: all three taken, the batch still open
    (d.inbox / "deleted.wav").unlink()
    rewritten = make_wav(d.inbox / "rewritten.wav", seconds=2, seed=4)
    await wait_for(lambda: len(visible_files(d.archive)) == 2, 40, "two files archived")
    assert (d.archive / "demo" / "stays.wav").read_bytes() == stays
    assert (d.archive / "demo" / "rewritten.wav").read_bytes() == rewritten
    assert d.uploads_of(sha256(stays)) == 1 and d.uploads_of(sha256(rewritten)) == 1
    sent = [f.name for t in d.sim.state.tasks.values() for f in t.files]
    assert sorted(sent) == ["rewritten.wav", "stays.wav"]  # the old and deleted never sent
    assert {e.get("file") for e in daemon.events("file.dropped_from_batch")} == {
        "deleted.wav",
        "rewritten.wav",
    }
    assert await d.stop(daemon) == 0


async def test_second_signal_stops_at_once(deployment: Deployment) -> None:
    d = deployment
    d.sim.options.latency_seconds = 30  # every request hangs: a graceful stop would wait
    d.settings["SHUTDOWN_GRACE_SECONDS"] = "60"
    make_wav(d.inbox / "a.wav", seed=1)
    daemon = d.start()
    await wait_for(lambda: d.sim.state.in_flight > 0, 20, "a request in flight")
    daemon.proc.send_signal(signal.SIGTERM)
    await wait_for(lambda: daemon.events("daemon.stopping"), 10, "the first signal to be taken")
    assert daemon.alive()  # draining: the request in flight holds it for up to 60 s
    daemon.proc.send_signal(signal.SIGTERM)
    await wait_for(lambda: not daemon.alive(), 10, "the second signal to stop the daemon")
    assert daemon.proc.returncode == 0
    assert daemon.events("daemon.force_stop")
