"""The five folders: how they may relate to each other, and making sure they exist and are usable.

The inbox must not overlap the folders the daemon writes to, or it would take
its own transcripts, archive or journal as new audio. Folders that do not
exist are created with the mode UMASK allows (0750 for 0027), exactly: the
process umask does not get a say, because the daemon may not have applied
UMASK yet when the settings are loaded.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from hrec_ingest.config.fields import Report


class FolderError(Exception):
    """A folder cannot be created or used; the message names the folder and the OS's reason."""


def check_relations(folders: Mapping[str, tuple[Path, str]], report: Report) -> bool:
    """Check that the folders (KEY -> (resolved path, source)) are distinct and that FILES_DIR
    neither lies inside another nor holds one. Returns whether all is well."""
    ok = True
    seen: dict[Path, str] = {}
    for key, (path, source) in folders.items():
        if path in seen:
            report.problem(key, f"is the same folder as {seen[path]} ({path})", source)
            ok = False
        else:
            seen[path] = key
    inbox, inbox_source = folders["FILES_DIR"]
    for key, (path, source) in folders.items():
        if key == "FILES_DIR" or path == inbox:
            continue
        if inbox.is_relative_to(path):
            report.problem("FILES_DIR", f"lies inside {key} ({path})", inbox_source)
            ok = False
        elif path.is_relative_to(inbox):
            report.problem(
                key, f"lies inside FILES_DIR ({inbox}): its files would be taken as audio", source
            )
            ok = False
    return ok


def ensure_folder(path: Path, umask: int) -> None:
    """Create ``path`` (and missing parents) with mode ``0o777 & ~umask`` if needed, then check
    that the daemon can list it and write in it. Raises ``FolderError``."""
    mode = 0o777 & ~umask
    try:
        missing: list[Path] = []
        current = path
        while not current.exists() and current != current.parent:
            missing.append(current)
            current = current.parent
        for folder in reversed(missing):
            try:
                folder.mkdir(mode=mode)
            except FileExistsError:
                continue  # someone else made it meanwhile: theirs, leave its mode alone
            folder.chmod(mode)  # mkdir's mode was reduced by the process umask
    except OSError as exc:
        raise FolderError(f"cannot create {path}: {_reason(exc)}") from None
    if not path.is_dir():
        raise FolderError(f"{path} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise FolderError(f"cannot list {path}: permission denied")
    try:
        # O_TMPFILE where available: no name appears that a watcher could see.
        with tempfile.TemporaryFile(dir=path, prefix=".hrec-write-check-"):
            pass
    except OSError as exc:
        raise FolderError(f"cannot write in {path}: {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
