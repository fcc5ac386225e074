"""Digests computed while streaming: size, sha256 and audio duration from the first bytes."""

from __future__ import annotations

import hashlib
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sim_helpers import wav_bytes

from hrec_ingest.simulator.audio import (
    ESTIMATED_BYTES_PER_SECOND,
    StreamingDigest,
    audio_duration,
    wav_duration,
)


def _digest(data: bytes, chunk: int, name: str = "x.wav") -> tuple[int, str, float]:
    digest = StreamingDigest(name)
    for start in range(0, len(data), chunk):
        digest.update(data[start : start + chunk])
    result = digest.finish()
    return result.size, result.sha256, result.duration_seconds


@given(chunk=st.integers(min_value=1, max_value=70_000))
def test_chunking_does_not_change_the_digest(chunk: int) -> None:
    data = wav_bytes(5.0, rate=8000)
    assert _digest(data, chunk) == (len(data), hashlib.sha256(data).hexdigest(), 5.0)


def _riff(chunks: list[tuple[bytes, bytes]], data_size: int | None, audio: bytes) -> bytes:
    body = b"".join(cid + struct.pack("<I", len(c)) + c + b"\0" * (len(c) & 1) for cid, c in chunks)
    declared = len(audio) if data_size is None else data_size
    body += b"data" + struct.pack("<I", declared) + audio
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


# PCM, stereo, 16 kHz, 16-bit: 64,000 bytes per second.
FMT = struct.pack("<HHIIHH", 1, 2, 16_000, 64_000, 4, 16)


def test_wav_with_metadata_chunks_before_data() -> None:
    data = _riff([(b"LIST", b"odd-sized"), (b"fmt ", FMT)], None, bytes(128_000))
    assert wav_duration(data[:4096], len(data)) == 2.0


@pytest.mark.parametrize("declared", [0, 0xFFFFFFFF, 10**9])
def test_wav_with_a_wrong_data_size_uses_what_is_there(declared: int) -> None:
    data = _riff([(b"fmt ", FMT)], declared, bytes(96_000))
    assert wav_duration(data[:4096], len(data)) == 1.5


def test_not_a_wav() -> None:
    assert wav_duration(b"ID3" + bytes(100), 1000) is None
    assert wav_duration(b"RIFF\0\0\0\0AVI " + bytes(100), 1000) is None


def test_mp3_is_sized_by_mutagen_from_its_head() -> None:
    # MPEG-1 layer III, 192 kbit/s, 44.1 kHz: frames of 626 bytes.
    frame = bytes([0xFF, 0xFB, 0xB0, 0x64]) + bytes(622)
    data = frame * 3000
    expected = 3000 * 1152 / 44_100
    assert audio_duration(data[:65_536], len(data), "call.mp3") == pytest.approx(expected, rel=0.01)


def test_unknown_content_is_estimated_from_its_size() -> None:
    data = b"not audio at all " * 10_000
    assert (
        audio_duration(data[:65_536], len(data), "x.bin") == len(data) / ESTIMATED_BYTES_PER_SECOND
    )
    assert audio_duration(b"", 0) == 0.0
