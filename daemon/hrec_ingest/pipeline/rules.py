"""Which names in the inbox are never taken (interface.md section 4)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

# Names that copy tools, browsers and sync clients give files still being written.
TEMPORARY_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".filepart", "~")


def ignore_reason(rel_parts: Sequence[str], audio_extensions: Collection[str]) -> str | None:
    """Why a file at this inbox-relative path is left alone, or None if it may be taken.

    Hidden names are skipped at any depth (rsync writes ``.name.XXXXXX``, sync
    tools keep ``.folders``); so are temporary suffixes and extensions that
    AUDIO_EXTENSIONS does not list. Content is checked later, by the validator.
    """
    if not rel_parts:
        return "empty path"
    for part in rel_parts:
        if part.startswith("."):
            return "hidden name"
    name = rel_parts[-1]
    lowered = name.lower()
    if lowered.endswith(TEMPORARY_SUFFIXES):
        return "partial or temporary name"
    _, dot, extension = lowered.rpartition(".")
    if not dot or extension not in audio_extensions:
        return "extension not in AUDIO_EXTENSIONS"
    return None
