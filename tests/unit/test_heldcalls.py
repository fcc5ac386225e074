"""heldcalls: os's quick file calls through libc with the GIL held, the same results and errors."""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from hrec_ingest import heldcalls

EXCL = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


@pytest.fixture(autouse=True)
def holding() -> Iterator[None]:
    """Every test starts with the calls held, whatever a slow call elsewhere did."""
    heldcalls.release(0)
    yield
    heldcalls.release(0)


@pytest.fixture
def os_calls_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the os functions fail, so a test passes only through the held path.

    After ``tmp_path`` is made: pytest makes it with these functions.
    """

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("went through os")

    for name in ("open", "write", "close", "link", "unlink", "fchmod"):
        monkeypatch.setattr(heldcalls.os, name, refused)
    monkeypatch.setattr(heldcalls.os.path, "lexists", refused)


def test_libc_is_found_here() -> None:
    # The rest of these tests would pass through the os fallback without it.
    assert heldcalls._open is not None and heldcalls._faccessat is not None


@pytest.mark.usefixtures("os_calls_refused")
def test_a_file_written_linked_and_removed_through_libc(tmp_path: Path) -> None:
    tmp = tmp_path / ".a.tmp"
    data = b"x" * 70_000 + b"\0 in the middle\0"
    fd = heldcalls.open_fd(tmp, EXCL, 0o600)
    heldcalls.fchmod(fd, 0o640)
    heldcalls.write_all(fd, data)
    heldcalls.close(fd)
    heldcalls.link(tmp, tmp_path / "a.json")
    heldcalls.unlink(tmp)

    assert (tmp_path / "a.json").read_bytes() == data
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
    assert heldcalls.lexists(tmp_path / "a.json")
    assert not heldcalls.lexists(tmp)


@pytest.mark.usefixtures("os_calls_refused")
def test_lexists_answers_as_os_path_lexists(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    (tmp_path / "broken").symlink_to(tmp_path / "nowhere")

    assert heldcalls.lexists(tmp_path / "file")
    assert heldcalls.lexists(str(tmp_path / "broken"))  # the name exists, its target not
    assert not heldcalls.lexists(tmp_path / "nowhere")
    assert not heldcalls.lexists(tmp_path / "file" / "below")  # ENOTDIR
    assert not heldcalls.lexists(f"{tmp_path}/a\0b")


def test_lexists_asks_os_when_libc_cannot_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*_args: object) -> int:
        ctypes.set_errno(errno.EINVAL)  # as a libc without AT_SYMLINK_NOFOLLOW in faccessat
        return -1

    monkeypatch.setattr(heldcalls, "_faccessat", unsupported)
    (tmp_path / "file").write_bytes(b"")

    assert heldcalls.lexists(tmp_path / "file")
    assert not heldcalls.lexists(tmp_path / "missing")


def test_errors_are_os_errors_with_their_paths(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_bytes(b"")

    with pytest.raises(FileExistsError) as opened:
        heldcalls.open_fd(taken, EXCL, 0o640)
    assert opened.value.filename == str(taken)

    with pytest.raises(FileExistsError) as linked:
        heldcalls.link(taken, taken)
    assert (linked.value.filename, linked.value.filename2) == (str(taken), str(taken))

    with pytest.raises(FileNotFoundError) as unlinked:
        heldcalls.unlink(tmp_path / "missing")
    assert unlinked.value.errno == errno.ENOENT
    assert unlinked.value.filename == str(tmp_path / "missing")

    fd = os.open(taken, os.O_RDONLY)
    os.close(fd)
    for call in (lambda: heldcalls.close(fd), lambda: heldcalls.fchmod(fd, 0o600)):
        with pytest.raises(OSError) as bad_fd:
            call()
        assert bad_fd.value.errno == errno.EBADF
    with pytest.raises(OSError) as write_bad_fd:
        heldcalls.write_all(fd, b"data")
    assert write_bad_fd.value.errno == errno.EBADF


def test_a_slow_call_sends_the_next_ones_through_os_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(heldcalls, "monotonic", lambda: now[0])
    heldcalls.release(0)  # holding, on this clock
    real_link = heldcalls._link
    assert real_link is not None

    def slow_link(src: bytes, dst: bytes) -> int:
        now[0] += heldcalls.SLOW_SECONDS * 2  # the disk made this call wait
        return real_link(src, dst)

    through_os: list[str] = []
    real_unlink = os.unlink

    def os_unlink(path: str | os.PathLike[str]) -> None:
        through_os.append(os.fspath(path))
        real_unlink(path)

    monkeypatch.setattr(heldcalls, "_link", slow_link)
    monkeypatch.setattr(heldcalls.os, "unlink", os_unlink)
    (tmp_path / "a").write_bytes(b"a")

    heldcalls.link(tmp_path / "a", tmp_path / "b")
    heldcalls.unlink(tmp_path / "b")  # within RELEASE_SECONDS: through os
    now[0] += heldcalls.RELEASE_SECONDS
    heldcalls.unlink(tmp_path / "a")  # held again

    assert through_os == [str(tmp_path / "b")]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_without_libc_every_call_is_its_os_counterpart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("_open", "_write", "_close", "_link", "_unlink", "_fchmod", "_faccessat"):
        monkeypatch.setattr(heldcalls, name, None)
    fd = heldcalls.open_fd(tmp_path / "a", EXCL, 0o600)
    heldcalls.fchmod(fd, 0o640)
    heldcalls.write_all(fd, b"abc")
    heldcalls.close(fd)
    heldcalls.link(tmp_path / "a", tmp_path / "b")
    heldcalls.unlink(tmp_path / "a")

    assert (tmp_path / "b").read_bytes() == b"abc"
    assert heldcalls.lexists(tmp_path / "b") and not heldcalls.lexists(tmp_path / "a")
    with pytest.raises(FileNotFoundError):
        heldcalls.unlink(tmp_path / "a")
