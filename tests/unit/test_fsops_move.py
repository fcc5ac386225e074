"""move_file: renames, copies across file systems, replays, refusals."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hrec_ingest.fsops import MoveResult, move_file, temp_name

# These tests put faults into os's functions, or record them: the quick calls must use them.
pytestmark = pytest.mark.usefixtures("calls_through_os")

DATA = b"RIFF....WAVEfmt audio" * 1000


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "inbox" / "call.wav"
    path.parent.mkdir()
    path.write_bytes(DATA)
    os.chmod(path, 0o604)
    os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_123_456_789))
    return path


@pytest.fixture
def dst(tmp_path: Path) -> Path:
    return tmp_path / "archive" / "tenant" / "sub" / "call.wav"


def force_exdev(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    real = os.link

    def link(a: Any, b: Any, *args: Any, **kwargs: Any) -> None:
        if Path(a).parent == folder:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        real(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "link", link)


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_rename_within_a_file_system(src: Path, dst: Path) -> None:
    inode = src.stat().st_ino
    assert move_file(src, dst) is MoveResult.RENAMED
    assert not src.exists() and dst.read_bytes() == DATA
    assert dst.stat().st_ino == inode
    assert (dst.parent.stat().st_mode & 0o777) == 0o750
    assert names(dst.parent) == ["call.wav"]


def test_copy_across_file_systems_keeps_mode_and_mtime(
    src: Path, dst: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    force_exdev(monkeypatch, src.parent)
    assert move_file(src, dst) is MoveResult.COPIED
    assert not src.exists() and dst.read_bytes() == DATA
    st = dst.stat()
    assert (st.st_mode & 0o777) == 0o604
    assert st.st_mtime_ns == 1_600_000_000_123_456_789
    assert names(dst.parent) == ["call.wav"]


@pytest.fixture
def other_fs(tmp_path: Path) -> Iterator[Path]:
    shm = Path("/dev/shm")
    if (
        not shm.is_dir()
        or not os.access(shm, os.W_OK)
        or shm.stat().st_dev == tmp_path.stat().st_dev
    ):
        pytest.skip("no second writable file system")
    with tempfile.TemporaryDirectory(dir=shm) as folder:
        yield Path(folder)


def test_real_move_across_file_systems(src: Path, other_fs: Path) -> None:
    target = other_fs / "archive" / "call.wav"
    assert move_file(src, target) is MoveResult.COPIED
    assert not src.exists() and target.read_bytes() == DATA
    assert move_file(src, target) is MoveResult.ALREADY_DONE


def test_copy_without_sendfile(src: Path, dst: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    force_exdev(monkeypatch, src.parent)

    def unsupported(*args: Any) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "sendfile", unsupported)
    assert move_file(src, dst) is MoveResult.COPIED
    assert dst.read_bytes() == DATA


def test_disk_full_during_copy_keeps_the_source(
    src: Path, dst: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    force_exdev(monkeypatch, src.parent)

    def full(*args: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "sendfile", full)
    with pytest.raises(OSError) as caught:
        move_file(src, dst)
    assert caught.value.errno == errno.ENOSPC
    assert src.read_bytes() == DATA
    assert names(dst.parent) == []


def test_replay_after_done(src: Path, dst: Path) -> None:
    move_file(src, dst)
    stale = dst.parent / temp_name(dst.name, "move")
    stale.write_bytes(b"half")
    assert move_file(src, dst) is MoveResult.ALREADY_DONE
    assert names(dst.parent) == ["call.wav"]


def test_identical_copy_present_finishes_the_move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True)
    dst.write_bytes(DATA)
    assert move_file(src, dst) is MoveResult.COMPLETED
    assert not src.exists() and dst.read_bytes() == DATA


def test_hard_link_left_by_a_crash_finishes_the_move(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True)
    os.link(src, dst)
    assert move_file(src, dst) is MoveResult.COMPLETED
    assert not src.exists() and dst.read_bytes() == DATA


@pytest.mark.parametrize("other", [b"different", DATA[:-1] + b"!"], ids=["size", "content"])
def test_never_overwrites_a_different_destination(src: Path, dst: Path, other: bytes) -> None:
    dst.parent.mkdir(parents=True)
    dst.write_bytes(other)
    with pytest.raises(FileExistsError):
        move_file(src, dst)
    assert src.read_bytes() == DATA and dst.read_bytes() == other


def test_nothing_to_move(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        move_file(tmp_path / "a", tmp_path / "b")


def test_only_regular_files_move(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "dir")
    for path in (tmp_path / "dir", tmp_path / "link"):
        with pytest.raises(OSError) as caught:
            move_file(path, tmp_path / "out" / path.name)
        assert caught.value.errno == errno.EINVAL


def test_without_hard_links_a_checked_rename(
    src: Path, dst: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    assert move_file(src, dst) is MoveResult.RENAMED
    assert dst.read_bytes() == DATA and not src.exists()


def test_destination_appearing_at_the_last_moment_is_not_overwritten(
    src: Path, dst: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.link

    def racing(a: Any, b: Any, *args: Any, **kwargs: Any) -> None:
        Path(b).write_bytes(b"the other writer")
        real(a, b, *args, **kwargs)

    monkeypatch.setattr(os, "link", racing)
    with pytest.raises(FileExistsError):
        move_file(src, dst)
    assert src.read_bytes() == DATA and dst.read_bytes() == b"the other writer"


def test_a_file_is_never_moved_onto_itself(src: Path) -> None:
    with pytest.raises(ValueError):
        move_file(src, src.parent / ".." / src.parent.name / src.name)
    assert src.read_bytes() == DATA


@pytest.mark.parametrize("many", [False, True], ids=["move_file", "move_files"])
def test_a_new_file_dropped_under_the_name_during_the_move_is_kept(
    src: Path, dst: Path, monkeypatch: pytest.MonkeyPatch, many: bool
) -> None:
    """A producer renames a new file in under the source's name while the move syncs."""
    import hrec_ingest.fsops as fsops

    newer = b"RIFF....WAVEfmt the next call" * 100
    real_fsync_dir = fsops.fsync_dir
    dropped: list[Path] = []

    def fsync_dir(folder: Path) -> None:
        if not dropped and dst.exists():  # the link made, the source's name not yet removed
            staged = src.parent.parent / "staged.wav"
            staged.write_bytes(newer)
            os.rename(staged, src)
            dropped.append(src)
        real_fsync_dir(folder)

    monkeypatch.setattr(fsops, "fsync_dir", fsync_dir)
    if many:
        assert fsops.move_files([(src, dst)]) == [MoveResult.RENAMED]
    else:
        assert move_file(src, dst) is MoveResult.RENAMED
    assert dropped and dst.read_bytes() == DATA
    assert src.read_bytes() == newer  # not removed with the moved file's name
