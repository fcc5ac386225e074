"""Where a file's outputs go, derived only from its inbox path (interface.md section 4).

Nothing the server returns is used to build a path: only the tenant, the
file's path below the tenant's inbox, and the taskId the daemon chose.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from hrec_ingest.fsops import free_name, free_name_by, split_ext, stem_for
from hrec_ingest.pipeline.watcher import InboxLayout

ARCHIVE = "archive"
FAILED = "failed"
ERROR_SUFFIX = ".error.json"


def _join(base: Path, rel_path: str) -> Path:
    return base.joinpath(*rel_path.split("/"))


@dataclass(frozen=True, slots=True)
class Folders:
    inbox: InboxLayout
    output_dir: Path
    archive_dir: Path
    failed_dir: Path
    export_formats: tuple[str, ...]

    def source(self, tenant: str, rel_path: str) -> Path:
        # One Path made from text: asked several times per file on the event loop,
        # where joining Path objects part by part cost twice as much.
        return Path(f"{_inbox_base(self.inbox, tenant)}/{rel_path}")

    def output(self, tenant: str, out_stem: str, fmt: str) -> Path:
        return _join(self.output_dir / tenant, f"{out_stem}.{fmt}")

    def destination(self, kind: str, tenant: str, dest_rel: str) -> Path:
        base = self.archive_dir if kind == ARCHIVE else self.failed_dir
        return _join(base / tenant, dest_rel)

    def error_file(self, tenant: str, dest_rel: str) -> Path:
        return _join(self.failed_dir / tenant, dest_rel + ERROR_SUFFIX)


@functools.lru_cache(maxsize=256)
def _inbox_base(inbox: InboxLayout, tenant: str) -> str:
    return os.fspath(inbox.files_dir / tenant if inbox.multi_tenant else inbox.files_dir)


def _split(rel_path: str) -> tuple[str, str]:
    folder, _, name = rel_path.rpartition("/")
    return folder, name


def _joined(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


@functools.lru_cache(maxsize=64)
def _room_for_transcripts(ext: str, formats: tuple[str, ...]) -> int:
    """Bytes an archive name must leave free so that ``<stem>.<fmt>`` fits in 255 bytes too."""
    longest = max((len(os.fsencode(f".{fmt}")) for fmt in formats), default=0)
    return max(0, longest - len(os.fsencode(ext)))


def choose_export_names(
    folders: Folders,
    tenant: str,
    rel_path: str,
    task_id: str,
    reserved: Callable[[str, str], bool],
    formats: Collection[str] = ("json", "txt", "srt", "vtt"),
    lexists: Callable[[str], bool] = os.path.lexists,
) -> tuple[str, str]:
    """(out_stem, archive dest_rel) for a file: its own name unless any of them is taken.

    A name is taken when the archive file or any transcript of that stem
    exists, or another file in the journal holds it (``reserved(out_stem,
    dest_rel)``). Then the taskId goes before the extension for all of them
    together, so ``call.wav`` and ``call.json`` stay a visible pair. A name
    so long that ``<stem>.json`` would pass 255 bytes is shortened (its
    stem, at a character boundary) for the audio and transcripts alike.
    ``lexists(path)`` answers for the disk (``exportnames`` asks it in advance).
    """
    folder, name = _split(rel_path)
    # Paths as text: pathlib took most of this function's time, which runs on the
    # event loop for every file exported.
    parts = [tenant, *folder.split("/")] if folder else [tenant]
    archive_folder = os.path.join(folders.archive_dir, *parts)
    output_folder = os.path.join(folders.output_dir, *parts)

    def taken(candidate: str) -> bool:
        candidate_stem = stem_for(candidate)
        if reserved(_joined(folder, candidate_stem), _joined(folder, candidate)):
            return True
        if lexists(os.path.join(archive_folder, candidate)):
            return True
        prefix = os.path.join(output_folder, candidate_stem + ".")
        return any(lexists(prefix + fmt) for fmt in formats)

    room = _room_for_transcripts(split_ext(name)[1], tuple(formats))
    chosen = free_name_by(name, task_id, taken, reserve=room)
    return _joined(folder, stem_for(chosen)), _joined(folder, chosen)


def choose_failed_name(
    folders: Folders, tenant: str, rel_path: str, tag: str, reserved: Callable[[str], bool]
) -> str:
    """dest_rel in FAILED_DIR for a file, with the same collision rule as the archive.

    The name leaves room for ``.error.json`` within 255 bytes.
    """
    folder, name = _split(rel_path)
    failed_folder = folders.destination(FAILED, tenant, folder or ".")

    def taken(candidate: Path) -> bool:
        dest = _joined(folder, candidate.name)
        return candidate.exists() or Path(str(candidate) + ERROR_SUFFIX).exists() or reserved(dest)

    reserve = len(ERROR_SUFFIX)
    return _joined(folder, free_name(failed_folder, name, tag, exists=taken, reserve=reserve))
