"""atomic_write, sweep_temporaries, sha256_file, fsync_dir, ensure_dir."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hrec_ingest import fsops
from hrec_ingest.fsops import (
    atomic_write,
    ensure_dir,
    fsync_dir,
    sha256_file,
    sweep_temporaries,
    temp_name,
)

# These tests put faults into os's functions, or record them: the quick calls must use them.
pytestmark = pytest.mark.usefixtures("calls_through_os")


@pytest.fixture
def strict_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_writes_content_with_exact_modes_and_creates_folders(
    tmp_path: Path, strict_umask: None
) -> None:
    target = tmp_path / "out" / "tenant" / "sub" / "call.json"
    atomic_write(target, b"{}\n")
    assert target.read_bytes() == b"{}\n"
    assert mode(target) == 0o640
    for folder in (tmp_path / "out", tmp_path / "out" / "tenant", target.parent):
        assert mode(folder) == 0o750
    assert leftovers(target.parent) == []


def test_custom_mode(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a", b"x", mode=0o600)
    assert mode(tmp_path / "a") == 0o600


def test_same_content_again_is_a_no_op(tmp_path: Path) -> None:
    target = tmp_path / "call.txt"
    atomic_write(target, b"hello")
    atomic_write(target, b"hello")
    assert target.read_bytes() == b"hello"
    assert leftovers(tmp_path) == []


def test_never_overwrites_other_content(tmp_path: Path) -> None:
    target = tmp_path / "call.txt"
    target.write_bytes(b"someone else's")
    with pytest.raises(FileExistsError):
        atomic_write(target, b"mine")
    assert target.read_bytes() == b"someone else's"
    assert leftovers(tmp_path) == []


def test_never_writes_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "victim").write_bytes(b"keep")
    (tmp_path / "call.txt").symlink_to(tmp_path / "victim")
    with pytest.raises(FileExistsError):
        atomic_write(tmp_path / "call.txt", b"mine")
    assert (tmp_path / "victim").read_bytes() == b"keep"


def test_disk_full_surfaces_as_enospc_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError) as caught:
        atomic_write(tmp_path / "call.json", b"x" * 100)
    assert caught.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    atomic_write(tmp_path / "a", b"0123456789")
    assert (tmp_path / "a").read_bytes() == b"0123456789"


def test_failed_fsync_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError) as caught:
        atomic_write(tmp_path / "a", b"x")
    assert caught.value.errno == errno.EIO
    assert list(tmp_path.iterdir()) == []


def test_without_hard_links_falls_back_to_a_checked_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: Any, dst: Any) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    atomic_write(tmp_path / "a", b"x")
    assert (tmp_path / "a").read_bytes() == b"x"
    with pytest.raises(FileExistsError):
        atomic_write(tmp_path / "a", b"y")
    atomic_write(tmp_path / "a", b"x")
    assert leftovers(tmp_path) == []


# --- other helpers ----------------------------------------------------------------------------


def test_sweep_removes_only_our_temporaries(tmp_path: Path) -> None:
    ours = [
        tmp_path / temp_name("call.json", "0123456789abcdef"),
        tmp_path / "sub" / temp_name("call.wav", "move"),
    ]
    theirs = [
        tmp_path / ".call.json.tmp",
        tmp_path / "call.json",
        tmp_path / "x.0123456789abcdef.hrec.tmp",
    ]
    for path in ours + theirs:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / temp_name("dir", "0123456789abcdef")).mkdir()
    (tmp_path / temp_name("link", "move")).symlink_to(tmp_path / "call.json")
    removed = sweep_temporaries(tmp_path)
    assert sorted(removed) == sorted(ours)
    assert all(p.exists() for p in theirs)
    assert (tmp_path / temp_name("dir", "0123456789abcdef")).is_dir()
    assert (tmp_path / temp_name("link", "move")).is_symlink()
    assert sweep_temporaries(tmp_path / "missing") == []


def test_sweep_spares_young_temporaries(tmp_path: Path) -> None:
    young = tmp_path / temp_name("a", "0123456789abcdef")
    old = tmp_path / temp_name("b", "0123456789abcdef")
    young.write_bytes(b"")
    old.write_bytes(b"")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    assert sweep_temporaries(tmp_path, min_age_seconds=60) == [old]
    assert young.exists()


def test_sha256_file_reads_in_chunks(tmp_path: Path) -> None:
    data = os.urandom(fsops.CHUNK_BYTES * 2 + 17)
    (tmp_path / "a").write_bytes(data)
    assert sha256_file(tmp_path / "a") == hashlib.sha256(data).hexdigest()
    (tmp_path / "e").write_bytes(b"")
    assert sha256_file(tmp_path / "e") == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("extra", [-1, 0, 1])
@pytest.mark.parametrize("size", [fsops.SMALL_READ_BYTES, fsops.CHUNK_BYTES])
def test_sha256_file_at_the_edges_of_its_buffer(tmp_path: Path, size: int, extra: int) -> None:
    data = os.urandom(size + extra)
    (tmp_path / "a").write_bytes(data)
    assert sha256_file(tmp_path / "a") == hashlib.sha256(data).hexdigest()


def test_sha256_file_reads_what_a_file_grew_by_after_its_size_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The buffer is sized from fstat; bytes appended after it are still hashed."""
    path = tmp_path / "a"
    path.write_bytes(b"start")
    real_fstat = os.fstat

    def fstat_then_grow(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        with path.open("ab") as more:
            more.write(b"x" * 100_000)
        return st

    monkeypatch.setattr(fsops.os, "fstat", fstat_then_grow)
    assert sha256_file(path) == hashlib.sha256(b"start" + b"x" * 100_000).hexdigest()


def test_sha256_fd_hashes_from_the_start_whatever_was_read_before(tmp_path: Path) -> None:
    data = os.urandom(fsops.SMALL_READ_BYTES * 3)
    (tmp_path / "a").write_bytes(data)
    fd = os.open(tmp_path / "a", os.O_RDONLY)
    try:
        os.read(fd, len(data))  # at the end, as a sniffer may leave it
        assert fsops.sha256_fd(fd, len(data)) == hashlib.sha256(data).hexdigest()
    finally:
        os.close(fd)


def test_sha256_file_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError) as caught:
        sha256_file(tmp_path / "pipe")
    assert caught.value.errno == errno.EINVAL


def test_fsync_dir_ignores_file_systems_that_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync_dir(tmp_path)

    def refuse(fd: int) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "fsync", refuse)
    fsync_dir(tmp_path)

    def broken(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        fsync_dir(tmp_path)


def test_ensure_dir_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(OSError):
        ensure_dir(tmp_path / "file" / "sub")
    ensure_dir(tmp_path)  # existing: nothing to do
