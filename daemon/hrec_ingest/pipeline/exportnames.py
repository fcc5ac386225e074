"""Output and archive names for a group of files, the disk asked in one thread hop.

``layout.choose_export_names`` asks the disk (five ``lstat`` calls) and the
journal (one query) about each candidate name. Asked one by one on the event
loop, each of those gave the GIL up to the threads writing files and waited to
win it back: 170 µs of the loop's CPU per file (docs/benchmarks.md). Here
every file's first choice is looked up for the whole group at once, the disk
in one hop to a worker thread and the journal in one query; a file whose first
choice is taken asks about its next ones as before. The names chosen are the
same as ``choose_export_names`` gives one file at a time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from hrec_ingest import diskwork, heldcalls
from hrec_ingest.journal import FileRow, Journal
from hrec_ingest.pipeline.layout import ARCHIVE, Folders, choose_export_names


async def choose_group_names(
    folders: Folders, journal: Journal, task_id: str, rows: Sequence[FileRow]
) -> list[tuple[str, str]]:
    """(out_stem, archive dest_rel) for each row, none equal to another's or to one held."""
    asked: list[str] = []

    def free(path: str) -> bool:
        asked.append(path)
        return False

    # With every name answered free, each file's first choice and the paths it needs.
    firsts: list[tuple[str, str]] = []
    spans: list[tuple[int, int]] = []  # which of ``asked`` each first choice needs
    for row in rows:
        start = len(asked)
        firsts.append(
            choose_export_names(
                folders, row.tenant, row.rel_path, task_id, lambda _s, _d: False, lexists=free
            )
        )
        spans.append((start, len(asked)))
    present = await diskwork.in_thread(_present, asked)
    known = frozenset(asked)

    def lexists(path: str) -> bool:
        return path in present if path in known else os.path.lexists(path)

    held = _held_in_journal(journal, rows, firsts)
    chosen: set[tuple[str, str, str]] = set()  # (tenant, "stem" or "dest", name)
    names: list[tuple[str, str]] = []
    for row, first, (start, end) in zip(rows, firsts, spans, strict=True):
        stem, dest = first
        stems, dests = held[row.tenant]
        if (
            stem not in stems
            and dest not in dests
            and (row.tenant, "stem", stem) not in chosen
            and (row.tenant, "dest", dest) not in chosen
            and present.isdisjoint(asked[start:end])
        ):
            # The usual case: the first choice is free everywhere, which is what
            # choose_export_names below would find again after the same questions.
            chosen.update(((row.tenant, "stem", stem), (row.tenant, "dest", dest)))
            names.append(first)
            continue

        def reserved(
            stem: str, dest: str, row: FileRow = row, first: tuple[str, str] = first
        ) -> bool:
            # Names chosen earlier in this group are not in the journal yet.
            if (row.tenant, "stem", stem) in chosen or (row.tenant, "dest", dest) in chosen:
                return True
            if (stem, dest) == first:
                held_stems, held_dests = held[row.tenant]
                return stem in held_stems or dest in held_dests
            return journal.name_reserved(row.tenant, out_stem=stem, dest=(ARCHIVE, dest))

        stem, dest = choose_export_names(
            folders, row.tenant, row.rel_path, task_id, reserved, lexists=lexists
        )
        chosen.update(((row.tenant, "stem", stem), (row.tenant, "dest", dest)))
        names.append((stem, dest))
    return names


def _present(paths: Sequence[str]) -> frozenset[str]:
    return frozenset(path for path in paths if heldcalls.lexists(path))


def _held_in_journal(
    journal: Journal, rows: Sequence[FileRow], firsts: Sequence[tuple[str, str]]
) -> dict[str, tuple[set[str], set[str]]]:
    """Per tenant, which of the first choices the journal holds: (stems, destinations)."""
    wanted: dict[str, tuple[set[str], set[str]]] = {}
    for row, (stem, dest) in zip(rows, firsts, strict=True):
        stems, dests = wanted.setdefault(row.tenant, (set(), set()))
        stems.add(stem)
        dests.add(dest)
    return {
        tenant: journal.names_reserved(tenant, stems, ARCHIVE, dests)
        for tenant, (stems, dests) in wanted.items()
    }
