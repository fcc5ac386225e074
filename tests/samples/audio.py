"""Audio files built byte by byte, shared by the unit and end-to-end tests.

No audio tools are installed here, so each builder makes the smallest file
that mutagen (or our own parser) reads.
"""

from __future__ import annotations

import struct
import uuid
import wave
from pathlib import Path

# --- builders ---------------------------------------------------------------------------------


def wav(
    path: Path, *, seconds: float = 1.0, rate: int = 8000, channels: int = 1, width: int = 2
) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(b"\0" * int(seconds * rate) * channels * width)
    return path


def chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def fmt_chunk(channels: int = 1, rate: int = 8000, bits: int = 16) -> bytes:
    align = channels * bits // 8
    return chunk(b"fmt ", struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits))


def riff(*chunks: bytes, magic: bytes = b"RIFF") -> bytes:
    body = b"WAVE" + b"".join(chunks)
    return magic + struct.pack("<I", len(body)) + body


def id3(padding: int = 0) -> bytes:
    size = bytes(
        [(padding >> 21) & 127, (padding >> 14) & 127, (padding >> 7) & 127, padding & 127]
    )
    return b"ID3\x04\x00\x00" + size + b"\0" * padding


def mpeg_frames(count: int) -> bytes:
    # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, stereo, no padding: 417 bytes a frame.
    return (b"\xff\xfb\x90\x00" + b"\0" * 413) * count


def adts_frames(count: int, rate_index: int = 8, channels: int = 1) -> bytes:
    length = 7 + 100
    header = bytes(
        [
            0xFF,
            0xF1,
            (1 << 6) | (rate_index << 2) | (channels >> 2),
            ((channels & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )
    return (header + b"\0" * 100) * count


def flac(rate: int = 16000, channels: int = 1, bits: int = 16, samples: int = 48000) -> bytes:
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | samples
    info = struct.pack(">HH", 4096, 4096) + b"\0" * 6 + packed.to_bytes(8, "big") + b"\0" * 16
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_page(packet: bytes, sequence: int, granule: int, flags: int) -> bytes:
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    header = b"OggS" + bytes([0, flags]) + struct.pack("<qIII", granule, 1, sequence, 0)
    page = header + bytes([len(lacing)]) + bytes(lacing) + packet
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def opus(seconds: float = 2.0, channels: int = 1) -> bytes:
    head = b"OpusHead" + bytes([1, channels]) + struct.pack("<HIhB", 312, 16000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0)
    end = 312 + int(seconds * 48000)
    return (
        ogg_page(head, 0, 0, 2)
        + ogg_page(tags, 1, 0, 0)
        + ogg_page(b"\xfc" + b"\0" * 10, 2, end, 4)
    )


def vorbis(seconds: float = 2.0, channels: int = 2, rate: int = 44100) -> bytes:
    ident = b"\x01vorbis" + struct.pack("<IBIiii", 0, channels, rate, 0, 128000, 0) + b"\xb8\x01"
    comment = b"\x03vorbis" + struct.pack("<I", 4) + b"test" + struct.pack("<I", 0) + b"\x01"
    setup = b"\x05vorbis" + b"\0" * 20
    return (
        ogg_page(ident, 0, 0, 2)
        + ogg_page(comment + setup, 1, 0, 0)
        + ogg_page(b"\0" * 10, 2, int(seconds * rate), 4)
    )


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(
    seconds: float = 3.0, rate: int = 16000, channels: int = 1, brand: bytes = b"M4A "
) -> bytes:
    ftyp = box(b"ftyp", brand + b"\0\0\0\0" + brand + b"isom")
    mdhd = box(
        b"mdhd", b"\0" * 4 + struct.pack(">IIII", 0, 0, rate, int(seconds * rate)) + b"\0" * 4
    )
    hdlr = box(b"hdlr", b"\0" * 8 + b"soun" + b"\0" * 13)
    entry = (
        b"\0" * 6
        + struct.pack(">H", 1)
        + b"\0" * 8
        + struct.pack(">HHHHI", channels, 16, 0, 0, rate << 16)
    )
    stsd = box(b"stsd", b"\0" * 4 + struct.pack(">I", 1) + box(b"mp4a", entry + box(b"free", b"")))
    trak = box(b"trak", box(b"mdia", mdhd + hdlr + box(b"minf", box(b"stbl", stsd))))
    mvhd = box(
        b"mvhd", b"\0" * 4 + struct.pack(">IIII", 0, 0, 1000, int(seconds * 1000)) + b"\0" * 80
    )
    return ftyp + box(b"moov", mvhd + trak) + box(b"mdat", b"\0" * 100)


def guid(text: str) -> bytes:
    return uuid.UUID(text).bytes_le


def asf(seconds: float = 4.0, channels: int = 1, rate: int = 8000) -> bytes:
    preroll_ms = 3000
    props = b"\0" * 16 + struct.pack(
        "<QQQQQQIIII", 0, 0, 0, int(seconds * 1e7) + preroll_ms * 10_000, 0, preroll_ms, 2, 0, 0, 0
    )
    file_props = (
        guid("8CABDCA1-A947-11CF-8EE4-00C00C205365") + struct.pack("<Q", 24 + len(props)) + props
    )
    wfx = struct.pack("<HHIIHHH", 0x161, channels, rate, 2000, 64, 16, 0)
    stream = (
        guid("F8699E40-5B4D-11CF-A8FD-00805F5C442B")
        + b"\0" * 16
        + struct.pack("<QIIH", 0, len(wfx), 0, 1)
        + b"\0" * 4
        + wfx
    )
    stream_props = (
        guid("B7DC0791-A9B7-11CF-8EE6-00C00C205365") + struct.pack("<Q", 24 + len(stream)) + stream
    )
    body = file_props + stream_props
    return (
        guid("75B22630-668E-11CF-A6D9-00AA0062CE6C")
        + struct.pack("<QIBB", 30 + len(body), 2, 1, 2)
        + body
    )


def el(element_id: int, payload: bytes) -> bytes:
    ident = element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")
    return ident + bytes([0x01]) + len(payload).to_bytes(7, "big") + payload


def uint(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def webm(doctype: bytes = b"webm", *, duration_ms: float | None = 2500.0) -> bytes:
    header = el(0x1A45DFA3, el(0x4286, uint(1)) + el(0x4282, doctype))
    info = el(0x2AD7B1, uint(1_000_000))
    if duration_ms is not None:
        info += el(0x4489, struct.pack(">d", duration_ms))
    video = el(0xAE, el(0xD7, uint(1)) + el(0x83, uint(1)))
    audio = el(
        0xAE,
        el(0xD7, uint(2))
        + el(0x83, uint(2))
        + el(0xE1, el(0xB5, struct.pack(">f", 48000.0)) + el(0x9F, uint(2))),
    )
    body = el(0xEC, b"\0" * 50) + el(0x1549A966, info) + el(0x1654AE6B, video + audio)
    body += el(0x1F43B675, el(0xE7, uint(0)))
    # A live recorder's Segment: size unknown (all ones).
    return header + bytes.fromhex("18538067") + bytes.fromhex("01ffffffffffffff") + body
