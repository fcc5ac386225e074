"""Digest of an uploaded file, computed while it streams: size, sha256, duration.

The simulator keeps no audio. The duration (which shapes the processing time
and the transcript) is read from the first bytes: a WAV's RIFF header gives
it exactly; other formats go through mutagen with the rest of the file
standing in as zeros; failing both, the size gives an estimate.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass

import mutagen

# Enough for a RIFF header with a few metadata chunks, an MP3's ID3 tag and
# Xing frame, or a FLAC's STREAMINFO.
HEAD_BYTES = 64 * 1024
# 128 kbit/s: a fair guess for compressed speech recordings.
ESTIMATED_BYTES_PER_SECOND = 16_000


@dataclass(frozen=True, slots=True)
class FileDigest:
    name: str
    size: int
    sha256: str
    duration_seconds: float


class StreamingDigest:
    """Feed it an upload chunk by chunk; ``finish`` gives its :class:`FileDigest`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._hash = hashlib.sha256()
        self._size = 0
        self._head = bytearray()

    def update(self, chunk: bytes) -> None:
        """Account for the next chunk of the file."""
        self._hash.update(chunk)
        self._size += len(chunk)
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]

    def finish(self) -> FileDigest:
        """The digest of everything fed so far; the kept head is released."""
        duration = audio_duration(bytes(self._head), self._size, self.name)
        self._head = bytearray()
        return FileDigest(self.name, self._size, self._hash.hexdigest(), duration)


def audio_duration(head: bytes, size: int, name: str = "") -> float:
    """Seconds of audio in a file of ``size`` bytes whose first bytes are ``head``."""
    if size == 0:
        return 0.0
    wav = wav_duration(head, size)
    if wav is not None:
        return wav
    probed = _mutagen_duration(head, size, name)
    if probed is not None:
        return probed
    return size / ESTIMATED_BYTES_PER_SECOND


def wav_duration(head: bytes, size: int) -> float | None:
    """Duration of a RIFF/WAVE file from its header, or None if it is not one.

    The data chunk's declared size is capped by what the file really holds:
    recorders that stream often leave it 0 or 0xFFFFFFFF.
    """
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    byte_rate = 0
    offset = 12
    while offset + 8 <= len(head):
        chunk_id = head[offset : offset + 4]
        (chunk_size,) = struct.unpack_from("<I", head, offset + 4)
        body = offset + 8
        if chunk_id == b"fmt " and body + 12 <= len(head):
            (byte_rate,) = struct.unpack_from("<I", head, body + 8)
        elif chunk_id == b"data":
            if byte_rate <= 0:
                return None
            available = max(0, size - body)
            declared = chunk_size if 0 < chunk_size < 0xFFFFFFFF else available
            return min(declared, available) / byte_rate
        # Chunks are padded to an even length.
        offset = body + chunk_size + (chunk_size & 1)
    return None


class _HeadOnlyFile(io.RawIOBase):
    """A read-only file of ``size`` bytes that holds ``head`` and then zeros.

    Lets mutagen seek to the end (for trailing tags, or to size the stream)
    without the simulator keeping the file.
    """

    def __init__(self, head: bytes, size: int) -> None:
        self._head = head
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = min(len(buffer), max(0, self._size - self._pos))
        data = self._head[self._pos : self._pos + want]
        data += bytes(want - len(data))
        buffer[:want] = data
        self._pos += want
        return want


def _mutagen_duration(head: bytes, size: int, name: str) -> float | None:
    try:
        with _HeadOnlyFile(head, size) as fileobj:
            # The name only steers mutagen's guess of the format: with a file
            # object given, it never opens a path.
            probed = mutagen.File(fileobj=io.BufferedReader(fileobj), filename=name or None)
            length = float(probed.info.length) if probed is not None else 0.0
    # mutagen raises many kinds of errors on zeros where it expected frames;
    # any of them just means "not a format it can size from the head".
    except Exception:
        return None
    return length if length > 0 else None
