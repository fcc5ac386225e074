"""atomic_write_many and move_files: the same guarantees as one by one, each folder synced once."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from hrec_ingest import fsops
from hrec_ingest.fsops import FILE_MODE, MoveResult, atomic_write_many, is_temporary, move_files

# These tests put faults into os's functions, or record them: the quick calls must use them.
pytestmark = pytest.mark.usefixtures("calls_through_os")


def record_syncs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every folder sync and unlink, in order, as ("sync"|"unlink", path)."""
    calls: list[tuple[str, str]] = []
    real_sync, real_unlink = fsops.fsync_dir, os.unlink

    def sync(path: Path) -> None:
        calls.append(("sync", str(path)))
        real_sync(path)

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(("unlink", str(path)))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(fsops, "fsync_dir", sync)
    monkeypatch.setattr(fsops.os, "unlink", unlink)
    return calls


def test_atomic_write_many_writes_every_file_and_syncs_each_folder_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = record_syncs(monkeypatch)
    a, b = tmp_path / "out" / "a", tmp_path / "out" / "b"
    items = [(a / "x.json", b"{}\n"), (a / "x.txt", b"t\n"), (b / "y.json", b"[]\n")]
    atomic_write_many(items)
    for path, data in items:
        assert path.read_bytes() == data
        assert path.stat().st_mode & 0o777 == FILE_MODE
    syncs = [path for kind, path in calls if kind == "sync"]
    assert syncs.count(str(a)) == 1 and syncs.count(str(b)) == 1
    assert not [p for p in tmp_path.rglob("*") if is_temporary(p.name)]


def test_atomic_write_many_replays_and_refuses_other_content(tmp_path: Path) -> None:
    items = [(tmp_path / "x.json", b"one"), (tmp_path / "x.txt", b"two")]
    atomic_write_many(items)
    atomic_write_many(items)  # a replay after a crash: the same bytes are already there
    with pytest.raises(FileExistsError):
        atomic_write_many([(tmp_path / "x.txt", b"other")])
    assert (tmp_path / "x.txt").read_bytes() == b"two"
    assert not [p for p in tmp_path.iterdir() if is_temporary(p.name)]


def record_file_steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Each write, file sync and link of atomic_write_many, in order, with the file's name."""
    steps: list[tuple[str, str]] = []
    real_write, real_fsync, real_link = os.write, os.fsync, os.link

    def name_of(fd: int) -> str:
        return os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))

    def write(fd: int, data: Any) -> int:
        steps.append(("write", name_of(fd)))
        return real_write(fd, data)

    def fsync(fd: int) -> None:
        steps.append(("fsync", name_of(fd)))
        real_fsync(fd)

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        steps.append(("link", Path(src).name))
        real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(fsops.os, "write", write)
    monkeypatch.setattr(fsops.os, "fsync", fsync)
    monkeypatch.setattr(fsops.os, "link", link)
    return steps


needs_proc = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="needs /proc to see descriptors"
)


@needs_proc
def test_atomic_write_many_writes_ahead_and_syncs_each_file_before_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps = record_file_steps(monkeypatch)
    count = fsops.WRITE_AHEAD_FILES + 3
    atomic_write_many((tmp_path / f"{n}.txt", b"x%d" % n) for n in range(count))
    temps = [name for kind, name in steps if kind == "write"]
    assert len(temps) == count and all(is_temporary(t) for t in temps)
    for temp in temps:
        file_steps = [kind for kind, name in steps if name == temp]
        assert file_steps == ["write", "fsync", "link"]
    # The first WRITE_AHEAD_FILES are all written before the first of them is synced.
    first_sync = next(i for i, (kind, _) in enumerate(steps) if kind == "fsync")
    assert [kind for kind, _ in steps[:first_sync]] == ["write"] * fsops.WRITE_AHEAD_FILES
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.txt" for n in range(count))


def test_atomic_write_many_keeps_an_existing_name_when_asked(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_bytes(b"earlier run")
    named: list[str] = []
    items = [(tmp_path / "x.json", b"now"), (tmp_path / "x.txt", b"two")]
    atomic_write_many(
        items, keep_existing=True, on_named=lambda p: named.append(os.path.basename(p))
    )
    assert (tmp_path / "x.json").read_bytes() == b"earlier run"
    assert (tmp_path / "x.txt").read_bytes() == b"two"
    assert named == ["x.json", "x.txt"]
    assert not [p for p in tmp_path.iterdir() if is_temporary(p.name)]


@needs_proc
def test_atomic_write_many_leaves_no_temporary_file_or_descriptor_when_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(dst).name == "1.txt":
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(fsops.os, "link", link)
    open_before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match="Input/output"):
        atomic_write_many((tmp_path / f"{n}.txt", b"data") for n in range(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.txt"]
    assert len(os.listdir("/proc/self/fd")) == open_before


def sources(tmp_path: Path, names: list[str]) -> list[Path]:
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    for name in names:
        (inbox / name).write_bytes(name.encode() * 100)
    return [inbox / name for name in names]


def test_move_files_syncs_every_new_name_before_removing_any_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srcs = sources(tmp_path, ["a.wav", "b.wav", "c.wav"])
    dsts = [tmp_path / "archive" / "t" / s.name for s in srcs]
    calls = record_syncs(monkeypatch)
    assert move_files(list(zip(srcs, dsts, strict=True))) == [MoveResult.RENAMED] * 3
    for src, dst in zip(srcs, dsts, strict=True):
        assert not src.exists() and dst.read_bytes() == src.name.encode() * 100
    kinds = [kind for kind, _ in calls]
    first_unlink = kinds.index("unlink")
    # (The syncs before that one come from creating the archive folders.)
    assert calls[:first_unlink].count(("sync", str(dsts[0].parent))) == 1
    assert calls[first_unlink - 1] == ("sync", str(dsts[0].parent))
    assert calls[first_unlink:] == [("unlink", str(s)) for s in srcs] + [
        ("sync", str(srcs[0].parent))
    ]


def test_move_files_hands_odd_pairs_to_move_file(tmp_path: Path) -> None:
    srcs = sources(tmp_path, ["done.wav", "fresh.wav", "both.wav"])
    archive = tmp_path / "archive"
    archive.mkdir()
    os.rename(srcs[0], archive / "done.wav")  # a replay: moved before a crash
    os.link(srcs[2], archive / "both.wav")  # linked, the source's removal lost
    moves = [(s, archive / s.name) for s in srcs]
    assert move_files(moves) == [MoveResult.ALREADY_DONE, MoveResult.RENAMED, MoveResult.COMPLETED]
    assert sorted(p.name for p in archive.iterdir()) == ["both.wav", "done.wav", "fresh.wav"]
    assert not list((tmp_path / "inbox").iterdir())


def test_move_files_refuses_to_replace_other_content(tmp_path: Path) -> None:
    (src,) = sources(tmp_path, ["a.wav"])
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "a.wav").write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        move_files([(src, tmp_path / "archive" / "a.wav")])
    assert src.exists()


def test_move_files_copies_across_file_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    srcs = sources(tmp_path, ["a.wav", "b.wav"])
    real = os.link

    def link(a: Any, b: Any, *args: Any, **kwargs: Any) -> None:
        if Path(a).name == "b.wav":
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        real(a, b, *args, **kwargs)

    monkeypatch.setattr(fsops.os, "link", link)
    moves = [(s, tmp_path / "archive" / s.name) for s in srcs]
    assert move_files(moves) == [MoveResult.RENAMED, MoveResult.COPIED]
    assert [d.read_bytes() for _, d in moves] == [b"a.wav" * 100, b"b.wav" * 100]
    assert not any(s.exists() for s in srcs)
