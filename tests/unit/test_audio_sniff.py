"""sniff_audio: formats by content, refusals with clear reasons, no blocking, few bytes read.

No audio tools are installed here, so the files are built byte by byte: each
builder makes the smallest file that mutagen (or our own parser) reads.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hrec_ingest.audio import HEAD_BYTES, AudioInfo, NotAudioError, sniff_audio
from samples.audio import (
    adts_frames,
    asf,
    box,
    chunk,
    flac,
    fmt_chunk,
    guid,
    id3,
    mp4,
    mpeg_frames,
    opus,
    riff,
    vorbis,
    wav,
    webm,
)

# --- formats ----------------------------------------------------------------------------------


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_wav_details_come_from_its_header(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", seconds=1.5, rate=16000, channels=2)
    info = sniff_audio(path)
    assert info == AudioInfo("wav", 1.5, 2, 16000, path.stat().st_size)
    assert info.mime_type == "audio/wav"


def test_wav_with_chunks_before_and_fmt_after_data(tmp_path: Path) -> None:
    data = riff(
        chunk(b"LIST", b"INFOISFT\x05\0\0\0test\0"), chunk(b"data", b"\0" * 8000), fmt_chunk()
    )
    info = sniff_audio(write(tmp_path, "a", data))
    assert (info.format, info.duration_seconds, info.channels, info.sample_rate) == (
        "wav",
        0.5,
        1,
        8000,
    )


def test_rf64_wav_takes_its_size_from_ds64(tmp_path: Path) -> None:
    ds64 = chunk(b"ds64", struct.pack("<QQQI", 0, 16000, 8000, 0))
    data = (
        b"RF64" + b"\xff" * 4 + b"WAVE" + ds64 + fmt_chunk() + b"data" + b"\xff" * 4 + b"\0" * 16000
    )
    assert sniff_audio(write(tmp_path, "a", data)).duration_seconds == 1.0


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("id3.mp3", id3(100) + mpeg_frames(20), ("mp3", 2, 44100)),
        ("bare.mp3", mpeg_frames(20), ("mp3", 2, 44100)),
        ("a.flac", flac(), ("flac", 1, 16000)),
        ("id3.flac", id3(20) + flac(), ("flac", 1, 16000)),
        ("a.opus", opus(channels=1), ("opus", 1, 48000)),
        ("a.ogg", vorbis(), ("ogg", 2, 44100)),
        ("a.m4a", mp4(), ("m4a", 1, 16000)),
        ("a.mp4", mp4(brand=b"isom"), ("mp4", 1, 16000)),
        ("a.aac", adts_frames(50), ("aac", 1, 16000)),
        ("id3.aac", id3(10) + adts_frames(50), ("aac", 1, 16000)),
        ("a.wma", asf(), ("wma", 1, 8000)),
        ("a.webm", webm(), ("webm", 2, 48000)),
        ("a.mka", webm(b"matroska"), ("webm", 2, 48000)),
    ],
)
def test_formats_are_recognised_by_content(
    tmp_path: Path, name: str, data: bytes, expected: tuple[Any, ...]
) -> None:
    # The name says nothing: every file is called "upload.bin".
    path = write(tmp_path, "upload.bin", data)
    info = sniff_audio(path)
    assert (info.format, info.channels, info.sample_rate) == expected
    assert info.duration_seconds is not None and info.duration_seconds > 0
    assert info.size == len(data)


@pytest.mark.parametrize(
    ("data", "duration"),
    [
        (flac(samples=48000), 3.0),
        (opus(2.0), 2.0),
        (vorbis(2.0), 2.0),
        (mp4(3.0), 3.0),
        (asf(4.0), 4.0),
        (webm(), 2.5),
    ],
)
def test_durations(tmp_path: Path, data: bytes, duration: float) -> None:
    assert sniff_audio(write(tmp_path, "x", data)).duration_seconds == pytest.approx(
        duration, abs=0.01
    )


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"fLaC" + b"\0" * 10, "flac"),
        (id3(0), "mp3"),
        (b"OggS" + b"\0" * 40, "ogg"),
        (box(b"ftyp", b"M4A \0\0\0\0"), "m4a"),
        (guid("75B22630-668E-11CF-A6D9-00AA0062CE6C") + b"\0" * 20, "wma"),
        (webm(duration_ms=None)[:60], "webm"),
    ],
)
def test_magic_bytes_decide_even_when_mutagen_cannot_read(
    tmp_path: Path, data: bytes, fmt: str
) -> None:
    info = sniff_audio(write(tmp_path, "x", data))
    assert info.format == fmt
    assert info.duration_seconds is None


def test_live_webm_without_duration_still_has_its_track(tmp_path: Path) -> None:
    info = sniff_audio(write(tmp_path, "x", webm(duration_ms=None)))
    assert (info.format, info.duration_seconds, info.channels, info.sample_rate) == (
        "webm",
        None,
        2,
        48000,
    )


# --- refusals ---------------------------------------------------------------------------------


def reason(path: Path, **kwargs: Any) -> str:
    with pytest.raises(NotAudioError) as caught:
        sniff_audio(path, **kwargs)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def test_empty_file(tmp_path: Path) -> None:
    assert reason(write(tmp_path, "a.wav", b"")) == "empty file (0 bytes)"


def test_html_is_not_audio_and_the_reason_shows_its_first_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "a.wav", b"<!DOCTYPE html><html></html>")
    assert reason(path) == (
        "content is not a recognised audio format "
        "(starts with 3c 21 44 4f 43 54 59 50 45 20 68 74 6d 6c 3e 3c ...)"
    )
    assert reason(write(tmp_path, "b.wav", b"\x00\x01")) == (
        "content is not a recognised audio format (starts with 00 01)"
    )


@pytest.mark.parametrize(
    "data",
    [
        "plain text in UTF-16".encode("utf-16"),  # FF FE: a valid-looking MPEG frame header
        b"\xff\xfb\x90\x00" + b"\0" * 413 + b"not another frame" * 10,
        b"RIFF\x00\x00\x00\x00AVI LIST",
        b"\x1a\x45\xdf\xa3\x84\x42\x82\x81x" + b"\0" * 10,  # EBML, DocType "x"
        b"%PDF-1.7\n" + b"\0" * 100,
    ],
    ids=["utf16", "one-mpeg-frame-then-junk", "avi", "ebml-other", "pdf"],
)
def test_look_alikes_are_not_audio(tmp_path: Path, data: bytes) -> None:
    assert reason(write(tmp_path, "a.mp3", data)).startswith(
        "content is not a recognised audio format"
    )


def test_wav_cut_short_after_its_header(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", seconds=1.0)  # 16000 bytes of audio after a 44-byte header
    with open(path, "r+b") as stream:
        stream.truncate(44 + 1000)
    assert reason(path) == "WAV is truncated: header says 16000 bytes of audio, file holds 1000"


def test_wav_with_a_header_only(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", seconds=0)
    assert reason(path) == "WAV is truncated: header says 0 bytes of audio, file holds 0"
    header_only = write(tmp_path, "b.wav", riff(fmt_chunk()))
    assert reason(header_only) == "WAV is truncated: no audio data chunk in its 36 bytes"


def test_wav_never_finalised_by_its_recorder(tmp_path: Path) -> None:
    data = riff(fmt_chunk()) + b"data" + b"\xff" * 4 + b"\0" * 800
    assert reason(write(tmp_path, "a.wav", data)).startswith(
        "WAV is truncated: header says 4294967295 bytes of audio, file holds 800"
    )


def test_wav_without_fmt(tmp_path: Path) -> None:
    path = write(tmp_path, "a.wav", riff(chunk(b"data", b"\0" * 100)))
    assert reason(path) == "WAV is malformed: no fmt chunk describes its audio"


def test_above_max_bytes(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", seconds=1.0)
    size = path.stat().st_size
    assert (
        reason(path, max_bytes=size - 1)
        == f"file is {size} bytes, above BATCH_MAX_BYTES {size - 1}"
    )
    assert sniff_audio(path, max_bytes=size).format == "wav"


def run_with_deadline(action: Callable[[], object], seconds: float) -> object:
    """Run ``action`` in a thread; fail (instead of hanging the suite) if it blocks."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(action())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "sniff_audio blocked"
    return outcome[0]


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "a.wav"
    os.mkfifo(fifo)
    started = time.monotonic()
    outcome = run_with_deadline(lambda: sniff_audio(fifo), 5.0)
    assert isinstance(outcome, NotAudioError)
    assert outcome.reason == "not a regular file (FIFO)"
    assert time.monotonic() - started < 1.0
    outcome = run_with_deadline(lambda: sniff_audio(fifo, follow_symlinks=True), 5.0)
    assert isinstance(outcome, NotAudioError)


def test_fifo_swapped_in_after_the_check_does_not_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = wav(tmp_path / "real.wav")
    fifo = tmp_path / "a.wav"
    os.mkfifo(fifo)
    real_lstat = os.lstat
    # The check sees a regular file; the open then meets the FIFO.
    monkeypatch.setattr(
        os,
        "lstat",
        lambda p, *a, **k: real_lstat(real) if Path(p) == fifo else real_lstat(p, *a, **k),
    )
    outcome = run_with_deadline(lambda: sniff_audio(fifo), 5.0)
    assert isinstance(outcome, NotAudioError) and outcome.reason == "not a regular file (FIFO)"


def test_directories_and_symlinks(tmp_path: Path) -> None:
    assert reason(tmp_path) == "not a regular file (directory)"
    target = wav(tmp_path / "real.wav")
    link = tmp_path / "link.wav"
    link.symlink_to(target)
    assert reason(link) == "not a regular file (symbolic link)"
    assert sniff_audio(link, follow_symlinks=True).format == "wav"


def test_missing_file_is_an_os_error_not_a_verdict(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sniff_audio(tmp_path / "gone.wav")


# --- robustness ------------------------------------------------------------------------------

SAMPLES = [
    riff(fmt_chunk(), chunk(b"data", b"\0" * 400)),
    id3(30) + mpeg_frames(3),
    flac(),
    opus(),
    vorbis(),
    mp4(),
    adts_frames(3),
    asf(),
    webm(),
]


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.binary(min_size=1, max_size=600),
        st.tuples(st.sampled_from(SAMPLES), st.integers(1, 700)).map(lambda t: t[0][: t[1]]),
        st.tuples(
            st.sampled_from(SAMPLES), st.integers(0, 600), st.binary(min_size=1, max_size=8)
        ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]) :]),
    )
)
def test_any_content_gives_a_verdict_never_a_crash(tmp_path: Path, data: bytes) -> None:
    """Random, cut-short and corrupted files: an AudioInfo or a NotAudioError, nothing else."""
    path = tmp_path / "x"
    path.write_bytes(data)
    try:
        info = sniff_audio(path)
    except NotAudioError:
        return
    assert info.size == len(data)
    assert info.duration_seconds is None or (0 < info.duration_seconds < float("inf"))
    assert info.channels is None or info.channels > 0
    assert info.sample_rate is None or info.sample_rate > 0


# --- cost -------------------------------------------------------------------------------------


def test_reads_only_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 1 GiB WAV (sparse: costs no disk) is sniffed from a few bytes.
    path = tmp_path / "big.wav"
    audio = 1 << 30
    with open(path, "wb") as stream:
        stream.write(riff(fmt_chunk())[:4] + struct.pack("<I", audio + 36) + b"WAVE" + fmt_chunk())
        stream.write(b"data" + struct.pack("<I", audio))
        stream.truncate(44 + audio)
    read: list[int] = []
    real_pread = os.pread

    def counting(fd: int, count: int, offset: int) -> bytes:
        read.append(count)
        return real_pread(fd, count, offset)

    monkeypatch.setattr(os, "pread", counting)
    info = sniff_audio(path)
    assert info.duration_seconds == pytest.approx(audio / 16000)
    assert sum(read) <= HEAD_BYTES


def test_a_small_wav_takes_well_under_a_millisecond(tmp_path: Path) -> None:
    path = wav(tmp_path / "a.wav", seconds=0.5)
    sniff_audio(path)
    runs = 500
    started = time.perf_counter()
    for _ in range(runs):
        sniff_audio(path)
    per_call = (time.perf_counter() - started) / runs
    # Typically ~20 µs; the bound leaves room for a busy shared machine.
    assert per_call < 0.001
