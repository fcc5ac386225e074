"""Putting one failed file back in the inbox, in an order that a crash cannot spoil.

The steps, each safe to replay:

1. Move the audio from FAILED_DIR to its original inbox place (or a free
   name beside it). ``move_file`` never overwrites and finishes a move cut
   short; the name is chosen so that a rerun picks the same one: a name that
   already holds this very file (the link was made, the unlink not) counts
   as free.
2. Remove its ``.error.json``.
3. Mark its journal row ``retried``, which frees its FAILED_DIR name.

Why this order loses nothing: until step 1 completes, nothing has changed.
After it, the audio is in the inbox where the daemon takes it as a new file,
while the journal row still reserves the failed name and the ``.error.json``
still occupies it, so a second failure of the same file picks another name
and cannot collide with the leftovers. A rerun of ``retry`` finds the row
(or the ``.error.json``) with no audio in FAILED_DIR and only does what is
left: steps 2 and 3. Removing the reason before the journal row keeps the
journal the last word: a row still ``failed`` with nothing on disk is finished
by a rerun, whereas a reason left behind a ``retried`` row would be an orphan.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from hrec_ingest.commands.failed_files import FailedFile
from hrec_ingest.failpoints import failpoint
from hrec_ingest.fsops import free_name, fsync_dir, move_file, sha256_file
from hrec_ingest.journal import Journal
from hrec_ingest.pipeline.layout import FAILED, Folders

# What goes before the extension when the original inbox name is taken:
# call.wav -> call.retry.wav, then call.retry.2.wav.
COLLISION_TAG = "retry"


@dataclass(frozen=True, slots=True)
class PutBack:
    """What happened to one failed file: ``target`` is None when its audio had already left."""

    audio: Path
    target: Path | None


def put_back(item: FailedFile, folders: Folders, journal: Journal | None) -> PutBack:
    """Move a failed file's audio back to the inbox, remove its reason, forget its failure.

    Raises OSError when a step fails; what is done stays done, and running
    it again (for the same file) finishes the rest.
    """
    audio = folders.destination(FAILED, item.tenant, item.dest_rel)
    target = None
    if os.path.lexists(audio):
        target = return_path(folders, item, audio, journal)
        move_file(audio, target)
        failpoint("retry_after_move")
    error_file = folders.error_file(item.tenant, item.dest_rel)
    try:
        os.unlink(error_file)
        fsync_dir(error_file.parent)
    except FileNotFoundError:
        pass
    failpoint("retry_after_reason_removed")
    if journal is not None and item.row_id is not None:
        journal.forget_failure(item.row_id)
    return PutBack(audio, target)


def return_path(folders: Folders, item: FailedFile, audio: Path, journal: Journal | None) -> Path:
    """The inbox path for ``audio``: its original place, or a free name beside it.

    A name is taken when other content is there, or when the journal says the
    daemon holds that inbox path (a file whose audio is on its way out:
    putting another file there would confuse the replay of its move). A name
    that already holds this very content is where an interrupted run of this
    move went, so it is chosen again and the move finished.
    """
    folder, _, name = item.rel_path.rpartition("/")
    inbox_folder = folders.source(item.tenant, folder or ".")

    def held(candidate: Path) -> bool:
        if journal is None:
            return False
        rel_path = f"{folder}/{candidate.name}" if folder else candidate.name
        return journal.path_active(item.tenant, rel_path)

    def taken(candidate: Path) -> bool:
        if os.path.lexists(candidate):
            # This very content there means the move got that far before a crash.
            return not _same_file_content(audio, candidate)
        return held(candidate)

    return inbox_folder / free_name(inbox_folder, name, COLLISION_TAG, exists=taken)


def _same_file_content(a: Path, b: Path) -> bool:
    # The same file (a move cut short after its link) or an identical copy (cut
    # short after a copy across file systems): move_file finishes either.
    sa, sb = os.lstat(a), os.lstat(b)
    if not (stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode)):
        return False
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    return sa.st_size == sb.st_size and sha256_file(a) == sha256_file(b)
