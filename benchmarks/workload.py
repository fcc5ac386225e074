"""The files a benchmark drops: small real WAVs with distinct content, dropped atomically.

Files are written to a staging folder beside the inbox first (not timed),
then renamed into the inbox one by one, as a well-behaved producer would: a
rename is atomic, so the daemon never sees half a file, and the moment of
the rename is the file's drop time.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 8000
SAMPLE_BYTES = 2


def wav_header(data_bytes: int) -> bytes:
    """The 44-byte header of a mono 16-bit 8 kHz WAV holding ``data_bytes`` of samples."""
    fmt = struct.pack(
        "<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * SAMPLE_BYTES, SAMPLE_BYTES, 8 * SAMPLE_BYTES
    )
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", data_bytes)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + data_bytes) + b"WAVE" + chunks


def wav_bytes(seconds: float, stamp: bytes) -> bytes:
    """A mono 16-bit 8 kHz WAV of ``seconds`` of silence whose first samples are ``stamp``.

    The stamp makes every file's content (and so its SHA-256) distinct, as
    real recordings are, without spending time on random data.
    """
    data = bytearray(int(seconds * SAMPLE_RATE) * SAMPLE_BYTES)
    data[: len(stamp)] = stamp
    return wav_header(len(data)) + bytes(data)


@dataclass(frozen=True)
class Workload:
    """N generated files waiting in a staging folder, by the name they get in the inbox."""

    staging: Path
    names: tuple[str, ...]
    audio_seconds: float
    bytes_each: int

    @property
    def total_bytes(self) -> int:
        return self.bytes_each * len(self.names)


def generate(staging: Path, count: int, audio_seconds: float, tag: str = "") -> Workload:
    """Write ``count`` distinct WAVs of ``audio_seconds`` each into ``staging``."""
    staging.mkdir(parents=True, exist_ok=True)
    names = tuple(f"call-{index:06d}.wav" for index in range(count))
    size = 0
    for index, name in enumerate(names):
        data = wav_bytes(audio_seconds, f"{tag}#{index:08d}#".encode().ljust(32, b"\x01"))
        (staging / name).write_bytes(data)
        size = len(data)
    return Workload(staging, names, audio_seconds, size)


def drop(
    workload: Workload, inbox: Path, names: Sequence[str] | None = None, rate: float = 0.0
) -> dict[str, float]:
    """Rename the staged files into ``inbox``; returns each name's drop time (epoch seconds).

    ``rate`` > 0 paces the drops at that many files per second (on schedule,
    not drifting); 0 drops them all at once.
    """
    inbox.mkdir(parents=True, exist_ok=True)
    dropped: dict[str, float] = {}
    started = time.monotonic()
    for index, name in enumerate(names if names is not None else workload.names):
        if rate > 0:
            due = started + index / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        os.rename(workload.staging / name, inbox / name)
        dropped[name] = time.time()
    return dropped
