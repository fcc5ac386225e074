"""A group of files' transcripts written, and their audio archived, in one thread hop each.

Both run in a worker thread (they wait for the disk); each folder is synced
once per group instead of once per file, with the order of
:func:`~hrec_ingest.fsops.atomic_write` and :func:`~hrec_ingest.fsops.move_file`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hrec_ingest import diskwork
from hrec_ingest.failpoints import failpoint
from hrec_ingest.formats import render_all
from hrec_ingest.fsops import PathText, atomic_write_many, move_files
from hrec_ingest.journal import FileRow
from hrec_ingest.miaop.models import ParagraphDesc
from hrec_ingest.pipeline.layout import Folders

Export = tuple[FileRow, Sequence[ParagraphDesc], Mapping[str, Any]]

# A group's transcriptions are all in memory at once; a transcript grows with
# its audio, so a group also closes at this much audio (long calls go alone).
# 20 (a whole default batch) rather than 10: half the folder syncs and thread hops
# per file, 10% more files/s on a journaled ext4 in the zero benchmark.
GROUP_MAX_FILES = 20
GROUP_MAX_AUDIO_SECONDS = 1800.0
# For a file whose duration is unknown: 128 kbit/s, a fair guess for speech.
BYTES_PER_AUDIO_SECOND = 16_000


def audio_seconds(row: FileRow) -> float:
    """The file's duration as intake read it, or an estimate from its size."""
    duration = (row.audio or {}).get("durationSeconds")
    if isinstance(duration, int | float) and duration >= 0:
        return float(duration)
    return row.size / BYTES_PER_AUDIO_SECOND


def export_groups(
    rows: Sequence[FileRow],
    max_files: int = GROUP_MAX_FILES,
    max_audio_seconds: float = GROUP_MAX_AUDIO_SECONDS,
) -> list[list[FileRow]]:
    """``rows`` in order, cut into groups of at most ``max_files`` and ``max_audio_seconds``.

    A file longer than the limit is a group of its own.
    """
    groups: list[list[FileRow]] = []
    seconds = 0.0
    for row in rows:
        length = audio_seconds(row)
        if not groups or len(groups[-1]) >= max_files or seconds + length > max_audio_seconds:
            groups.append([])
            seconds = 0.0
        groups[-1].append(row)
        seconds += length
    return groups


def rendered_outputs(folders: Folders, exports: Sequence[Export]) -> Iterator[tuple[str, bytes]]:
    """Every transcript file of ``exports``, each rendered only when it is about to be written.

    The paths are ``Folders.output``'s, as text: four pathlib joins per file cost
    more than writing the file on tmpfs.
    """
    for row, paragraphs, document in exports:
        assert row.out_stem is not None
        stem = os.path.join(folders.output_dir, row.tenant, *row.out_stem.split("/"))
        for fmt, data in render_all(
            folders.export_formats, paragraphs=paragraphs, document=document
        ):
            yield f"{stem}.{fmt}", data


def _mid_export(_path: PathText) -> None:
    failpoint("mid_export")  # a transcript named, the next not yet


def _write(folders: Folders, exports: Sequence[Export]) -> None:
    # Only an earlier run of this very export can have written a reserved name, and it
    # wrote it atomically: a name already there is complete, and kept.
    atomic_write_many(rendered_outputs(folders, exports), keep_existing=True, on_named=_mid_export)


async def write_outputs(folders: Folders, exports: Sequence[Export]) -> None:
    """Every missing transcript file of ``exports``, atomic, and durable when this returns.

    Raises OSError (a full or read-only disk); files named before it are
    complete, and a replay keeps them.
    """
    await diskwork.in_thread(_write, folders, exports)


async def move_audio(moves: Sequence[tuple[Path, Path]]) -> None:
    """Move each ``(src, dst)`` as ``fsops.move_file`` would; all durable when this returns."""
    await diskwork.in_thread(move_files, moves)
