"""Bad files in the inbox, many in one daemon run: each gets a clear outcome, the rest goes on.

Cases already covered elsewhere (see RELIABILITY.md): zero-byte and text-as-WAV
files (e2e test_bad_files_fail_at_validate_and_good_ones_go_on), the same name
twice (test_same_name_twice_gets_the_task_id), a file deleted or rewritten
before it was sent (test_file_changed_or_deleted_before_sending_is_dropped_then_retaken),
an unknown tenant folder (test_unknown_tenant_folder_is_left_untouched).
"""

from __future__ import annotations

import errno
import json
import os
import stat
import struct
from pathlib import Path

import pytest

from e2e.harness import Deployment, make_wav, sha256, visible_files, wait_for
from samples.audio import fmt_chunk, riff
from samples.deployments import StartDeployment

FORMATS = ("json", "txt", "srt", "vtt")
NAME_MAX = 255

# Names that must travel through unchanged (or shortened, when <stem>.json would pass 255 bytes).
ODD_NAMES = (
    "with  two spaces .wav",
    "שיחה עם לקוח.wav",
    "emoji 🎧📞.wav",
    "quotes \"double\" 'single'.wav",
    "new\nline.wav",
    "L" * (NAME_MAX - 4) + ".wav",  # 255 bytes
    "א" * 125 + "x.wav",  # 255 bytes, two-byte characters up to the cut
)
LONG_BAD = "T" * (NAME_MAX - 4) + ".wav"  # its .error.json must fit in 255 bytes too
DEEP = "/".join(f"level-{i:02d}" for i in range(1, 31)) + "/deep.wav"


def transcripts_by_source(out: Path) -> dict[str, Path]:
    """Each transcript JSON in ``out``, keyed by the inbox path it says it comes from."""
    found = {}
    for path in visible_files(out):
        if path.suffix == ".json":
            found[json.loads(path.read_text())["source"]["path"]] = path
    return found


def assert_transcribed(d: Deployment, drops: dict[str, bytes]) -> None:
    by_source = transcripts_by_source(d.out / "demo")
    for rel, data in drops.items():
        transcript = by_source[rel]
        document = json.loads(transcript.read_text())
        assert document["source"]["sha256"] == sha256(data) and document["transcription"]
        for fmt in FORMATS:
            assert transcript.with_suffix(f".{fmt}").is_file(), (rel, fmt)
        folder, _, name = rel.rpartition("/")
        archived = d.archive / "demo" / folder / (transcript.stem + ".wav")
        assert archived.read_bytes() == data, rel
        if len(os.fsencode(name)) < NAME_MAX:  # "<255-byte stem>.wav" is 255 bytes, ".json" 256
            assert archived.name == name and transcript.stem == name[:-4]
        else:
            assert name.startswith(transcript.stem) and len(os.fsencode(transcript.name)) <= 255
        assert d.uploads_of(sha256(data)) == 1, rel


def truncated_wav() -> bytes:
    """A WAV header that promises one second of audio, and nothing after it."""
    return riff(fmt_chunk(), b"data" + struct.pack("<I", 16_000))


def read_trap(path: Path) -> int:
    """Set ``path``'s atime before its mtime, so that any read moves it (relatime); returns it."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_mtime_ns - 10**12, st.st_mtime_ns))
    return os.stat(path).st_atime_ns


def was_read(path: Path, atime_ns: int) -> bool:
    return os.stat(path).st_atime_ns != atime_ns


def assert_never_read(target: Path, atime_ns: int) -> None:
    """The target of a link in the inbox was not read, if this file system records reads."""
    control = target.with_name("control.wav")
    make_wav(control, seed=99)
    control_atime = read_trap(control)
    control.read_bytes()
    if was_read(control, control_atime):  # not mounted noatime: a read would have shown
        assert not was_read(target, atime_ns)


def assert_no_reader(fifo: Path) -> None:
    """Nobody holds the FIFO open for reading: opening its write end fails with ENXIO."""
    with pytest.raises(OSError) as caught:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert caught.value.errno == errno.ENXIO


async def test_bad_and_odd_files_each_get_an_outcome_and_a_later_file_still_goes(
    deploy: StartDeployment,
) -> None:
    d, _ = await deploy()
    d.settings["BATCH_MAX_BYTES"] = "100000"
    d.inbox.mkdir(parents=True)
    drops = {name: make_wav(d.inbox / name, seed=i) for i, name in enumerate(ODD_NAMES)}
    drops["folder.wav/inner.wav"] = make_wav(d.inbox / "folder.wav" / "inner.wav", seed=20)
    drops[DEEP] = make_wav(d.inbox / DEEP, seed=21)
    (d.inbox / "truncated.wav").write_bytes(truncated_wav())
    (d.inbox / LONG_BAD).write_bytes(truncated_wav())
    make_wav(d.inbox / "big.wav", seconds=8, seed=22)  # 128 kB, above BATCH_MAX_BYTES
    outside = make_wav(d.root / "outside" / "secret.wav", seed=23)
    make_wav(d.root / "outside" / "folder" / "other.wav", seed=24)
    (d.inbox / "link.wav").symlink_to(d.root / "outside" / "secret.wav")
    (d.inbox / "linked-folder").symlink_to(d.root / "outside" / "folder")
    os.mkfifo(d.inbox / "pipe.wav")
    secret_atime = read_trap(d.root / "outside" / "secret.wav")
    daemon = d.start()

    await wait_for(lambda: len(visible_files(d.archive)) == len(drops), 60, "all good archived")
    await wait_for(lambda: len(visible_files(d.failed)) == 6, 30, "three failures with reasons")
    assert_transcribed(d, drops)
    for name, error in (("truncated.wav", "TruncatedAudio"), ("big.wav", "TooLarge")):
        reason = json.loads((d.failed / "demo" / f"{name}.error.json").read_text())
        assert (reason["stage"], reason["error"]["name"]) == ("validate", error)
    (long_reason,) = (d.failed / "demo").glob("TTT*.error.json")
    assert json.loads(long_reason.read_text())["source"]["name"] == LONG_BAD
    assert len(os.fsencode(long_reason.name)) <= NAME_MAX
    assert d.uploads_of(sha256(outside)) == 0
    assert sum(d.sim.state.uploads_by_sha256.values()) == len(drops)
    assert (d.inbox / "link.wav").is_symlink() and (d.root / "outside" / "secret.wav").exists()
    assert_never_read(d.root / "outside" / "secret.wav", secret_atime)
    assert stat.S_ISFIFO(os.lstat(d.inbox / "pipe.wav").st_mode)
    assert_no_reader(d.inbox / "pipe.wav")

    later = make_wav(d.inbox / "after.wav", seed=30)
    await wait_for(lambda: (d.archive / "demo" / "after.wav").exists(), 30, "the later file")
    assert_transcribed(d, {"after.wav": later})
    assert_no_reader(d.inbox / "pipe.wav")
    assert not [e for e in daemon.log_lines() if "crashed" in str(e.get("event"))]
    assert await d.stop(daemon) == 0
