"""A group's export names: the same as chosen one by one, the disk asked off the event loop."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from hrec_ingest.journal import FileRow, FileState, Journal, NewFile
from hrec_ingest.pipeline.exportnames import choose_group_names
from hrec_ingest.pipeline.layout import ARCHIVE, Folders, choose_export_names
from hrec_ingest.pipeline.watcher import InboxLayout

TASK = "t9"


def _folders(tmp_path: Path) -> Folders:
    layout = InboxLayout(tmp_path / "inbox", frozenset({"demo"}), multi_tenant=False)
    return Folders(layout, tmp_path / "out", tmp_path / "archive", tmp_path / "failed", ("json",))


def _submitted(journal: Journal, task_id: str, names: list[str]) -> list[FileRow]:
    files = [NewFile("demo", name, 10, 1, i, "ab" * 32, None) for i, name in enumerate(names)]
    return journal.create_intent(task_id, "demo", "English", "Task", files)


def _one_by_one(folders: Folders, journal: Journal, rows: list[FileRow]) -> list[tuple[str, str]]:
    """What the exporter chose before groups asked in advance: each file in turn."""
    stems: set[str] = set()
    dests: set[str] = set()
    names = []
    for row in rows:

        def held(stem: str, dest: str) -> bool:
            if stem in stems or dest in dests:
                return True
            return journal.name_reserved("demo", out_stem=stem, dest=(ARCHIVE, dest))

        stem, dest = choose_export_names(folders, "demo", row.rel_path, TASK, held)
        stems.add(stem)
        dests.add(dest)
        names.append((stem, dest))
    return names


async def test_names_match_the_one_by_one_choice_whatever_is_taken(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    journal = Journal.open(tmp_path)
    # Taken on disk: an archived audio and a lone transcript of another stem.
    (tmp_path / "archive" / "demo").mkdir(parents=True)
    (tmp_path / "archive" / "demo" / "disk.wav").write_bytes(b"x")
    (tmp_path / "out" / "demo" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "demo" / "sub" / "text.srt").write_bytes(b"x")
    # Held in the journal by a file of an earlier task, and its taskId variant too.
    (earlier,) = _submitted(journal, "t1", ["old/held.wav"])
    journal.reserve_many(FileState.EXPORTING, ARCHIVE, [(earlier.id, "held", "held.wav")])
    (second,) = _submitted(journal, "t2", ["old2/held.wav"])
    journal.reserve_many(
        FileState.EXPORTING, ARCHIVE, [(second.id, f"held.{TASK}", f"held.{TASK}.wav")]
    )
    rows = _submitted(
        journal,
        TASK,
        ["disk.wav", "sub/text.wav", "held.wav", "same.wav", "same.mp3", "free.wav"],
    )

    names = await choose_group_names(folders, journal, TASK, rows)

    assert names == _one_by_one(folders, journal, rows)
    assert names == [
        (f"disk.{TASK}", f"disk.{TASK}.wav"),
        (f"sub/text.{TASK}", f"sub/text.{TASK}.wav"),
        (f"held.{TASK}.2", f"held.{TASK}.2.wav"),
        ("same", "same.wav"),
        (f"same.{TASK}", f"same.{TASK}.mp3"),  # the stem "same" went to the .wav just before
        ("free", "free.wav"),
    ]


async def test_free_names_cost_the_event_loop_no_disk_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = _folders(tmp_path)
    journal = Journal.open(tmp_path)
    rows = _submitted(journal, TASK, [f"call-{i}.wav" for i in range(20)])
    on_loop: list[str] = []
    real: Callable[[str], bool] = os.path.lexists
    loop_thread = threading.get_ident()

    def counting(path: str) -> bool:
        if threading.get_ident() == loop_thread:
            on_loop.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os.path, "lexists", counting)
    names = await choose_group_names(folders, journal, TASK, rows)

    assert names == [(f"call-{i}", f"call-{i}.wav") for i in range(20)]
    assert on_loop == []


async def test_the_disk_is_asked_again_when_a_first_choice_is_taken(tmp_path: Path) -> None:
    folders = _folders(tmp_path)
    journal = Journal.open(tmp_path)
    archive = tmp_path / "archive" / "demo"
    archive.mkdir(parents=True)
    for name in ("a.wav", f"a.{TASK}.wav"):  # the second choice is taken on disk too
        (archive / name).write_bytes(b"x")
    rows = _submitted(journal, TASK, ["a.wav"])

    assert await choose_group_names(folders, journal, TASK, rows) == [
        (f"a.{TASK}.2", f"a.{TASK}.2.wav")
    ]


async def test_an_empty_group_has_no_names(tmp_path: Path) -> None:
    assert await choose_group_names(_folders(tmp_path), Journal.open(tmp_path), TASK, []) == []
