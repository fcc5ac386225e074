"""What a file in the inbox holds, decided by its content, never by its name.

:func:`sniff_audio` runs on every file before it is sent, so it is cheap: one
``lstat``, one ``open`` that cannot block, and reads of a few header bytes.
The first bytes decide the format; a WAV header is parsed here (it is the
common case and needs no library), the other formats are read by mutagen
for duration, channels and sample rate, and WebM/Matroska by a small EBML
reader. When mutagen cannot read a file whose magic bytes are right, the
format stands and the details are None: the server is the final judge.

Formats and their magic: WAV (``RIFF``/``RF64``/``BW64`` … ``WAVE``), MP3 (an
ID3v2 tag, or two consecutive MPEG audio frame headers), FLAC (``fLaC``,
also after an ID3 tag), Ogg (``OggS``: ``opus`` for Opus, else ``ogg``),
MP4 (``ftyp``: ``m4a`` for the audio brands, else ``mp4``), AAC (ADTS frame
headers or ``ADIF``), WMA (the ASF header GUID), WebM (an EBML header with
DocType ``webm`` or ``matroska``).
"""

from __future__ import annotations

import errno
import math
import os
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mutagen.aac import AAC
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggvorbis import OggVorbis

# One read covers the headers of nearly every file; more is read only where a header points.
HEAD_BYTES = 4096
# WebM puts its Info and Tracks after a SeekHead and padding; they fit in this much.
EBML_BYTES = 64 * 1024
HEX_BYTES = 16
# Opus always decodes at 48 kHz (mutagen does not say so).
OPUS_RATE = 48_000
MAX_WAV_CHUNKS = 64

MIME_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
    "wma": "audio/x-ms-wma",
    "webm": "audio/webm",
}

_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "})
_MUTAGEN: dict[str, tuple[Any, ...]] = {
    "mp3": (MP3,),
    "flac": (FLAC,),
    "ogg": (OggVorbis, OggFLAC, OggSpeex),
    "opus": (OggOpus,),
    "m4a": (MP4,),
    "mp4": (MP4,),
    "aac": (AAC,),
    "wma": (ASF,),
}

# MPEG audio frame headers: kbit/s by (is MPEG-1, layer), bitrate index 1..14.
_MPEG_LOW_23 = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MPEG_BITRATES = {
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): _MPEG_LOW_23,
    (False, 3): _MPEG_LOW_23,
}
_MPEG_RATES = (44100, 48000, 32000)
_MPEG_RATE_SHIFT = {3: 0, 2: 1, 0: 2}  # MPEG-1, MPEG-2, MPEG-2.5


class NotAudioError(Exception):
    """The file is not something to send; ``reason`` says why, for the ``.error.json``.

    ``name`` is the error's name in ``.error.json`` (README lists them):
    NotRegularFile, EmptyFile, TooLarge, NotAudio, TruncatedAudio, MalformedAudio.
    """

    def __init__(self, reason: str, name: str = "NotAudio") -> None:
        super().__init__(reason)
        self.reason = reason
        self.name = name


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What :func:`sniff_audio` found: the format, and what its header tells when it tells."""

    format: str
    duration_seconds: float | None
    channels: int | None
    sample_rate: int | None
    size: int

    @property
    def mime_type(self) -> str:
        """The media type to send the file with."""
        return MIME_TYPES[self.format]


def sniff_audio(
    path: os.PathLike[str] | str, *, max_bytes: int | None = None, follow_symlinks: bool = False
) -> AudioInfo:
    """Identify an audio file by its content; raise :class:`NotAudioError` if it is none.

    Refuses anything but a regular file before opening it (a FIFO would
    block a reader), with ``follow_symlinks=False`` symbolic links too; empty
    files; files above ``max_bytes``; content that is no known audio format;
    WAV files whose audio data is missing or cut short. The file is opened
    non-blocking and re-checked after opening, so a swap in between cannot
    make it hang. Other OSErrors (permission denied, file vanished) are
    raised as they are: they say nothing about the content.

    Example: ``sniff_audio("call.wav").duration_seconds`` -> ``12.5``.
    """
    st = os.stat(path) if follow_symlinks else os.lstat(path)
    _check_stat(st, max_bytes)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # became a symbolic link since the lstat
            raise NotAudioError("not a regular file (symbolic link)", "NotRegularFile") from exc
        raise
    try:
        return sniff_open_file(fd, os.fstat(fd), max_bytes=max_bytes)
    finally:
        os.close(fd)


def sniff_open_file(fd: int, st: os.stat_result, *, max_bytes: int | None = None) -> AudioInfo:
    """:func:`sniff_audio` of a file the caller has opened as ``fd``, ``st`` being its fstat.

    Intake opens each file once to sniff and hash it: a second open and its
    checks cost more than the sniffing of a small recording.
    """
    _check_stat(st, max_bytes)
    return _sniff(_Reader(fd, st.st_size))


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    )
    return next((name for test, name in kinds if test(mode)), "unknown type")


def _check_stat(st: os.stat_result, max_bytes: int | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise NotAudioError(f"not a regular file ({_file_kind(st.st_mode)})", "NotRegularFile")
    if st.st_size == 0:
        raise NotAudioError("empty file (0 bytes)", "EmptyFile")
    if max_bytes is not None and st.st_size > max_bytes:
        raise NotAudioError(
            f"file is {st.st_size} bytes, above BATCH_MAX_BYTES {max_bytes}", "TooLarge"
        )


class _Reader:
    """Reads at offsets, serving the first HEAD_BYTES from one read."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.size = size
        self.head = os.pread(fd, HEAD_BYTES, 0)

    def read(self, offset: int, count: int) -> bytes:
        if offset + count <= len(self.head):
            return self.head[offset : offset + count]
        return os.pread(self.fd, count, offset)


def _sniff(reader: _Reader) -> AudioInfo:
    fmt = _identify(reader)
    if fmt is None:
        shown = " ".join(f"{b:02x}" for b in reader.head[:HEX_BYTES])
        more = " ..." if reader.size > HEX_BYTES else ""
        raise NotAudioError(f"content is not a recognised audio format (starts with {shown}{more})")
    if fmt == "wav":
        duration, channels, rate = _wav_details(reader)
    elif fmt == "webm":
        duration, channels, rate = _webm_details(reader.read(0, EBML_BYTES))
    else:
        duration, channels, rate = _mutagen_details(reader.fd, fmt)
        if fmt == "opus" and channels is not None:
            rate = rate or OPUS_RATE
    return AudioInfo(fmt, duration, channels, rate, reader.size)


def _identify(reader: _Reader) -> str | None:
    head = reader.head
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3":
        return _after_id3(reader)
    if head[:4] == b"OggS":
        first_packet = head[27 + head[26] :] if len(head) > 27 else b""
        return "opus" if first_packet.startswith(b"OpusHead") else "ogg"
    if head[4:8] == b"ftyp":
        return "m4a" if head[8:12] in _M4A_BRANDS else "mp4"
    if head[:16] == _ASF_GUID:
        return "wma"
    if head[:4] == _EBML_MAGIC:
        return "webm" if _ebml_doctype(head) in ("webm", "matroska") else None
    if head[:4] == b"ADIF" or _frames_follow(reader, 0, _adts_frame_length):
        return "aac"
    if _frames_follow(reader, 0, _mpeg_frame_length):
        return "mp3"
    return None


def _after_id3(reader: _Reader) -> str:
    """What follows the ID3v2 tag(s): FLAC or ADTS AAC are sometimes tagged so; else MP3."""
    offset = 0
    tag = reader.read(offset, 10)
    while tag[:3] == b"ID3" and len(tag) == 10:
        size = (tag[6] & 0x7F) << 21 | (tag[7] & 0x7F) << 14 | (tag[8] & 0x7F) << 7 | tag[9] & 0x7F
        offset += 10 + size + (10 if tag[5] & 0x10 else 0)  # footer flag
        tag = reader.read(offset, 10)
    if tag[:4] == b"fLaC":
        return "flac"
    if _frames_follow(reader, offset, _adts_frame_length):
        return "aac"
    return "mp3"


def _frames_follow(
    reader: _Reader, offset: int, frame_length: Callable[[bytes], int | None]
) -> bool:
    """A frame header at ``offset``, and another where that frame ends (or the file's end).

    One header alone is too weak a sign: a UTF-16 text file starts with a
    valid MPEG frame header.
    """
    length = frame_length(reader.read(offset, 7))
    if not length:
        return False
    following = offset + length
    return following == reader.size or bool(frame_length(reader.read(following, 7)))


def _mpeg_frame_length(header: bytes) -> int | None:
    """Bytes in the MPEG audio frame this header starts, or None if it is not one."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return None
    version = (header[1] >> 3) & 3
    layer = 4 - ((header[1] >> 1) & 3)
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 3
    # Reserved values; bitrate index 0 is "free format", whose length no header tells.
    if version == 1 or layer == 4 or rate_index == 3 or bitrate_index in (0, 15):
        return None
    mpeg1 = version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[rate_index] >> _MPEG_RATE_SHIFT[version]
    padding = (header[2] >> 1) & 1
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4
    if layer == 3 and not mpeg1:
        return 72 * bitrate // rate + padding
    return 144 * bitrate // rate + padding


def _adts_frame_length(header: bytes) -> int | None:
    """Bytes in the ADTS (AAC) frame this header starts, or None if it is not one."""
    if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
        return None
    if (header[2] >> 2) & 0xF >= 13:  # sampling frequency index
        return None
    length = (header[3] & 3) << 11 | header[4] << 3 | header[5] >> 5
    return length if length >= 7 else None


# --- WAV ---------------------------------------------------------------------------------------


def _wav_details(reader: _Reader) -> tuple[float | None, int | None, int | None]:
    """Walk the RIFF chunks for ``fmt `` and ``data``; refuse a WAV without all its audio."""
    fmt: tuple[int, ...] | None = None
    data_at: int | None = None
    declared = 0
    big_data: int | None = None  # RF64: the real data size, from the ds64 chunk
    position = 12
    for _ in range(MAX_WAV_CHUNKS):
        header = reader.read(position, 8)
        if len(header) < 8:
            break
        chunk_id, size = header[:4], struct.unpack_from("<I", header, 4)[0]
        body = position + 8
        if chunk_id == b"ds64" and size >= 16:
            ds64 = reader.read(body, 16)
            big_data = struct.unpack("<QQ", ds64)[1] if len(ds64) == 16 else None
        elif chunk_id == b"fmt " and size >= 16:
            described = reader.read(body, 16)
            fmt = struct.unpack("<HHIIHH", described) if len(described) == 16 else None
        elif chunk_id == b"data":
            data_at = body
            declared = big_data if size == 0xFFFFFFFF and big_data is not None else size
            size = declared
        if fmt is not None and data_at is not None:
            break
        position = body + size + (size & 1)  # chunks are padded to even sizes
    return _wav_checked(reader.size, fmt, data_at, declared)


def _wav_checked(
    size: int, fmt: tuple[int, ...] | None, data_at: int | None, declared: int
) -> tuple[float | None, int | None, int | None]:
    if data_at is None:
        raise NotAudioError(
            f"WAV is truncated: no audio data chunk in its {size} bytes", "TruncatedAudio"
        )
    held = size - data_at
    if declared == 0 or declared > held:
        raise NotAudioError(
            f"WAV is truncated: header says {declared} bytes of audio, file holds {held}",
            "TruncatedAudio",
        )
    if fmt is None:
        raise NotAudioError("WAV is malformed: no fmt chunk describes its audio", "MalformedAudio")
    _, channels, rate, byte_rate, _, bits = fmt
    byte_rate = byte_rate or channels * rate * bits // 8
    duration = declared / byte_rate if byte_rate else None
    return duration, channels or None, rate or None


# --- mutagen -----------------------------------------------------------------------------------


def _mutagen_details(fd: int, fmt: str) -> tuple[float | None, int | None, int | None]:
    with open(fd, "rb", closefd=False) as stream:
        for kind in _MUTAGEN[fmt]:
            stream.seek(0)
            try:
                info = kind(stream).info
            # The magic bytes already decided; any failure, even a parser bug, only costs details.
            except Exception:  # noqa: BLE001
                continue
            return (
                _positive_float(getattr(info, "length", None)),
                _positive_int(getattr(info, "channels", None)),
                _positive_int(getattr(info, "sample_rate", None)),
            )
    return None, None, None


def _positive_float(value: object) -> float | None:
    """A usable count or measure: a finite number above zero, else None."""
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    return None


def _positive_int(value: object) -> int | None:
    number = _positive_float(value)
    whole = round(number) if number is not None and number < 2**63 else 0
    return whole if whole > 0 else None


# --- WebM / Matroska (EBML) --------------------------------------------------------------------

_SEGMENT, _CLUSTER = 0x18538067, 0x1F43B675
_INFO, _TIMESCALE, _DURATION = 0x1549A966, 0x2AD7B1, 0x4489
_TRACKS, _TRACK_ENTRY, _TRACK_TYPE, _AUDIO = 0x1654AE6B, 0xAE, 0x83, 0xE1
_RATE, _CHANNELS, _DOCTYPE = 0xB5, 0x9F, 0x4282
_AUDIO_TRACK = 2


def _vint(data: bytes, position: int, *, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``position``: (value, position after it)."""
    if position >= len(data) or data[position] == 0:
        return None
    length = 9 - data[position].bit_length()
    if position + length > len(data):
        return None
    value = int.from_bytes(data[position : position + length], "big")
    if not keep_marker:
        value &= (1 << (7 * length)) - 1
        if value == (1 << (7 * length)) - 1:
            value = -1  # "unknown size", used by live recorders for the Segment
    return value, position + length


def _elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, body start, body end) of each element between ``start`` and ``end``."""
    position = start
    while position < end:
        element = _vint(data, position, keep_marker=True)
        if element is None:
            return
        size = _vint(data, element[1], keep_marker=False)
        if size is None:
            return
        body = size[1]
        body_end = end if size[0] < 0 else min(body + size[0], end)
        yield element[0], body, body_end
        position = body_end


def _ebml_doctype(head: bytes) -> str | None:
    for _header, body, body_end in _elements(head, 0, len(head)):
        for child, start, stop in _elements(head, body, body_end):
            if child == _DOCTYPE:
                return head[start:stop].rstrip(b"\0").decode("ascii", "replace")
        return None
    return None


def _ebml_number(data: bytes, start: int, stop: int, *, real: bool) -> float:
    raw = data[start:stop]
    if not real:
        return float(int.from_bytes(raw, "big"))
    if len(raw) == 4:
        return float(struct.unpack(">f", raw)[0])
    return float(struct.unpack(">d", raw)[0]) if len(raw) == 8 else 0.0


def _webm_details(data: bytes) -> tuple[float | None, int | None, int | None]:
    """Duration from Segment/Info, channels and rate from the first audio track."""
    found: dict[int, float] = {}
    for element, body, body_end in _elements(data, 0, len(data)):
        if element != _SEGMENT:
            continue
        for child, start, stop in _elements(data, body, body_end):
            if child == _INFO:
                _collect(data, start, stop, found, {_TIMESCALE: False, _DURATION: True})
            elif child == _TRACKS:
                _webm_audio_track(data, start, stop, found)
            elif child == _CLUSTER:
                break
    scale = _positive_float(found.get(_TIMESCALE)) or 1_000_000.0  # nanoseconds per tick
    ticks = _positive_float(found.get(_DURATION))
    return (
        _positive_float(ticks * scale / 1e9) if ticks else None,
        _positive_int(found.get(_CHANNELS)),
        _positive_int(found.get(_RATE)),
    )


def _webm_audio_track(data: bytes, start: int, stop: int, found: dict[int, float]) -> None:
    for entry, body, body_end in _elements(data, start, stop):
        if entry != _TRACK_ENTRY:
            continue
        fields: dict[int, float] = {}
        _collect(data, body, body_end, fields, {_TRACK_TYPE: False})
        if fields.get(_TRACK_TYPE) != _AUDIO_TRACK:
            continue
        for child, a, b in _elements(data, body, body_end):
            if child == _AUDIO:
                _collect(data, a, b, found, {_RATE: True, _CHANNELS: False})
        found.setdefault(_CHANNELS, 1.0)  # Matroska's default
        return


def _collect(
    data: bytes, start: int, stop: int, found: dict[int, float], wanted: dict[int, bool]
) -> None:
    for element, body, body_end in _elements(data, start, stop):
        if element in wanted:
            found[element] = _ebml_number(data, body, body_end, real=wanted[element])
