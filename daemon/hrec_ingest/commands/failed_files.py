"""Finding failed files for ``hrec-ingest retry``: from the paths a user names, or all of them.

A failed file is known by its place in FAILED_DIR (``<tenant>/<dest_rel>``,
its audio and ``<dest_rel>.error.json`` beside it). Where it came from is read
from its journal row, or, when the journal no longer has one (a journal
started afresh), from the ``source`` block of its ``.error.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hrec_ingest.journal import FileState, Journal
from hrec_ingest.pipeline.layout import ERROR_SUFFIX, FAILED, Folders


class NotRetryable(Exception):
    """A path that is not a failed file this command can put back; the message says why."""

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path = path


@dataclass(frozen=True, slots=True)
class FailedFile:
    """A failed file to put back: its place in FAILED_DIR and its place in the inbox."""

    tenant: str
    dest_rel: str  # below FAILED_DIR/<tenant>/
    rel_path: str  # below the tenant's inbox
    row_id: int | None  # its journal row (state failed); None when known from .error.json only


def location_of(argument: str, failed_dir: Path) -> tuple[str, str]:
    """(tenant, dest_rel) of the failed file that ``argument`` names: its audio or its reason.

    Relative paths are taken from the current folder. Raises NotRetryable
    for a path outside FAILED_DIR, a folder, or one not below a tenant's folder.
    """
    path = _absolute(Path(argument))
    try:
        parts = path.relative_to(failed_dir).parts
    except ValueError:
        raise NotRetryable(f"not in FAILED_DIR ({failed_dir})") from None
    if path.is_dir():
        raise NotRetryable("is a folder; name the failed files in it, or use --all")
    if len(parts) < 2:
        raise NotRetryable(f"not a tenant's failed file (expected {failed_dir}/<tenant>/<name>)")
    dest_rel = "/".join(parts[1:])
    return parts[0], dest_rel.removesuffix(ERROR_SUFFIX) or dest_rel


def identify(tenant: str, dest_rel: str, folders: Folders, journal: Journal | None) -> FailedFile:
    """Where the failed file ``<tenant>/<dest_rel>`` came from: journal first, then its reason."""
    if journal is not None:
        row = journal.file_at_destination(tenant, FAILED, dest_rel)
        if row is not None and row.state is FileState.FAILING:
            raise NotRetryable("the daemon is moving it to FAILED_DIR right now; try again shortly")
        if row is not None and row.state is FileState.FAILED:
            return FailedFile(tenant, dest_rel, row.rel_path, row.id)
    error_file = folders.error_file(tenant, dest_rel)
    audio = folders.destination(FAILED, tenant, dest_rel)
    if not os.path.lexists(error_file):
        if os.path.lexists(audio):
            raise NotRetryable(
                "the journal has no failure recorded here and there is no .error.json beside it, "
                "so where it came from is unknown; move it into the inbox by hand"
            )
        raise NotRetryable("no such failed file (already retried, or never failed)")
    return FailedFile(tenant, dest_rel, source_path(error_file, tenant), None)


def source_path(error_file: Path, tenant: str) -> str:
    """The inbox path (below the tenant's inbox) that an ``.error.json`` names as its source.

    The document is read from disk, so it is checked before it may decide
    where a file goes: the tenant must match its folder, and the path must
    stay inside the inbox.
    """
    try:
        doc = json.loads(error_file.read_bytes())
    except (OSError, ValueError) as exc:
        raise NotRetryable(f"its {error_file.name} cannot be read ({exc})") from None
    source = doc.get("source") if isinstance(doc, dict) else None
    if not isinstance(source, dict) or source.get("tenant") != tenant:
        raise NotRetryable(f"its {error_file.name} names no source of tenant {tenant!r}")
    rel_path = source.get("path")
    if not isinstance(rel_path, str) or not _safe_relative(rel_path):
        raise NotRetryable(f"its {error_file.name} has no usable source path ({rel_path!r})")
    return rel_path


def every_failed(folders: Folders, journal: Journal | None) -> Iterator[FailedFile | NotRetryable]:
    """Every failed file: the journal's, then reasons in FAILED_DIR the journal does not know.

    A problem with one file is yielded in its place (with ``path``) so the
    caller reports it and goes on with the rest.
    """
    known: set[tuple[str, str]] = set()
    if journal is not None:
        for row in journal.files_in_state(FileState.FAILED):
            if row.dest_kind == FAILED and row.dest_rel is not None:
                known.add((row.tenant, row.dest_rel))
                yield FailedFile(row.tenant, row.dest_rel, row.rel_path, row.id)
    for tenant, dest_rel in _reasons_on_disk(folders.failed_dir):
        if (tenant, dest_rel) in known:
            continue
        try:
            yield identify(tenant, dest_rel, folders, journal)
        except NotRetryable as exc:
            yield NotRetryable(exc.reason, str(folders.destination(FAILED, tenant, dest_rel)))


def _reasons_on_disk(failed_dir: Path) -> Iterator[tuple[str, str]]:
    """(tenant, dest_rel) of every ``.error.json`` below FAILED_DIR, sorted, links not followed."""
    found: list[tuple[str, str]] = []
    for top, folders, names in os.walk(failed_dir):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        rel_top = Path(top).relative_to(failed_dir).parts
        if not rel_top:
            continue  # FAILED_DIR itself holds tenant folders only
        for name in names:
            if name.endswith(ERROR_SUFFIX) and not name.startswith("."):
                dest_rel = "/".join((*rel_top[1:], name[: -len(ERROR_SUFFIX)]))
                found.append((rel_top[0], dest_rel))
    return iter(sorted(found))


def _absolute(path: Path) -> Path:
    # FAILED_DIR in the settings is resolved; resolve the user's folder the
    # same way (symbolic links, ".."), but not the name itself.
    path = Path(os.path.abspath(path))
    return path.parent.resolve() / path.name


def _safe_relative(rel_path: str) -> bool:
    parts = rel_path.split("/")
    return all(p not in ("", ".", "..") and "\0" not in p for p in parts)
