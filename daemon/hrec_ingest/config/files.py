"""Reading the small files the configuration points at, safely.

A setting may name the wrong thing (a device, a FIFO, a huge log file), so
only regular files are read, and only up to a limit far above any real config.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MAX_CONFIG_BYTES = 1024 * 1024


class UnreadableFile(Exception):
    """A file cannot be read; the message is the reason, without the path."""


def read_small_file(path: Path, limit: int = MAX_CONFIG_BYTES) -> bytes:
    """Read the regular file at ``path`` whole, if it holds at most ``limit`` bytes.

    Raises ``UnreadableFile`` saying why not (the OS's reason, not a regular
    file, or too large).
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        raise UnreadableFile(getattr(exc, "strerror", None) or str(exc)) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnreadableFile("not a regular file")
        chunks: list[bytes] = []
        size = 0
        while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise UnreadableFile(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise UnreadableFile(f"larger than {limit} bytes")
    return data
