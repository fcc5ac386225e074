"""Which files of a folder ``submit`` sends: every visible file at its top level that is audio.

Like the guide's reference script, only the folder itself is read, not its
sub-folders. Hidden names and the names of files still being written
(``.part``, ``.tmp``, ...) are skipped, as the daemon skips them. Every other
file is judged by its content, whatever its extension: files that are not
audio, empty files and files above BATCH_MAX_BYTES are refused with the
daemon's error names (``NotAudio``, ``EmptyFile``, ``TooLarge``...) and never
sent. Symbolic links are followed: the user chose this folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hrec_ingest.audio import AudioInfo, NotAudioError, sniff_audio
from hrec_ingest.fsops import sha256_file
from hrec_ingest.pipeline.rules import TEMPORARY_SUFFIXES


@dataclass(frozen=True, slots=True)
class AudioFile:
    """A file to send: where it is, its name, and what was read of it."""

    path: Path
    name: str
    size: int
    mtime_ns: int
    inode: int
    sha256: str
    audio: AudioInfo


@dataclass(frozen=True, slots=True)
class Refused:
    """A file that is not sent, and why, in the terms of ``.error.json``."""

    name: str
    error: str
    reason: str


@dataclass
class FolderContents:
    """What a folder holds for ``submit``: audio to send, files refused, names passed over."""

    audio: list[AudioFile] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    subfolders: list[str] = field(default_factory=list)


def list_folder(folder: Path) -> tuple[list[Path], FolderContents]:
    """The files to examine in ``folder`` (sorted by name), and the names passed over.

    Raises OSError when the folder cannot be listed.
    """
    contents = FolderContents()
    files: list[Path] = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            name = entry.name
            if name.startswith(".") or name.lower().endswith(TEMPORARY_SUFFIXES):
                contents.skipped.append(name)
            elif entry.is_dir():
                contents.subfolders.append(name)
            else:
                files.append(Path(entry.path))
    return files, contents


def examine(path: Path, max_bytes: int) -> AudioFile | Refused:
    """Judge one file by its content: an AudioFile (hashed) or the reason it is refused."""
    try:
        info = sniff_audio(path, max_bytes=max_bytes, follow_symlinks=True)
        st = path.stat()
        digest = sha256_file(path)
    except NotAudioError as exc:
        return Refused(path.name, exc.name, exc.reason)
    except OSError as exc:
        return Refused(path.name, "Unreadable", exc.strerror or str(exc))
    return AudioFile(path, path.name, st.st_size, st.st_mtime_ns, st.st_ino, digest, info)


def examine_folder(
    folder: Path,
    max_bytes: int,
    on_file: Callable[[int, int], None],
    stop: threading.Event | None = None,
) -> FolderContents:
    """Everything ``submit`` needs to know of ``folder``; ``on_file(n, total)`` after each file.

    Blocks on disk I/O (every audio file is read once for its sha256): run it
    in a thread, and set ``stop`` to end it early (Ctrl-C) after the file it is reading.
    """
    files, contents = list_folder(folder)
    for n, path in enumerate(files, start=1):
        if stop is not None and stop.is_set():
            break
        found = examine(path, max_bytes)
        if isinstance(found, AudioFile):
            contents.audio.append(found)
        else:
            contents.refused.append(found)
        on_file(n, len(files))
    return contents
