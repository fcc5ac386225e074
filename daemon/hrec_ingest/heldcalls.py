"""The quick system calls of the file work, made without giving up the GIL while they are quick.

``os.open``, ``os.write``, ``os.link`` and the like release the GIL around
their system call, as every blocking call in CPython does. In a worker
thread beside a busy event loop, each release is a hand-off: the loop takes
the GIL, and the worker, back from a call that took microseconds, waits for
it again. With four transcripts and a move per file that is some forty
hand-offs per file, each a pair of futex calls and context switches
(docs/benchmarks.md, eleventh round). The calls here go through ctypes'
``PyDLL``, which keeps the GIL for the length of the call: for a call that
returns in microseconds, holding it costs less than handing it over.

Only for calls that do not wait for the disk to spin: opening, writing a
few kilobytes into the page cache, naming, removing, checking a name.
``fsync`` and reads of whole files still go through ``os`` (and
:func:`hrec_ingest.diskwork.fsync`), which let the event loop run while the
disk works. A journaled file system can still make one of these calls wait
(for a commit in progress); a held call that took longer than
``SLOW_SECONDS`` sends every call through ``os`` for ``RELEASE_SECONDS``,
so a slow disk holds the event loop up for at most one call in that time.

Each function raises the OSError that its ``os`` counterpart would
(FileExistsError, FileNotFoundError, ... with the path), and is its ``os``
counterpart where libc cannot be loaded.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from time import monotonic
from typing import Any

__all__ = ["close", "fchmod", "lexists", "link", "open_fd", "release", "unlink", "write_all"]

PathText = str | os.PathLike[str]

SLOW_SECONDS = 0.02
RELEASE_SECONDS = 10.0
_released_until = 0.0  # monotonic time until which calls go through os


def _libc() -> Any:
    try:
        return ctypes.PyDLL(None, use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def _bind(name: str, argtypes: list[Any], restype: Any) -> Callable[..., int] | None:
    func = getattr(_LIBC, name, None) if _LIBC is not None else None
    if func is None:
        return None
    func.argtypes = argtypes
    func.restype = restype
    return func  # type: ignore[no-any-return]


_open = _bind("open", [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint], ctypes.c_int)
_write = _bind("write", [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t], ctypes.c_ssize_t)
_close = _bind("close", [ctypes.c_int], ctypes.c_int)
_link = _bind("link", [ctypes.c_char_p, ctypes.c_char_p], ctypes.c_int)
_unlink = _bind("unlink", [ctypes.c_char_p], ctypes.c_int)
_fchmod = _bind("fchmod", [ctypes.c_int, ctypes.c_uint], ctypes.c_int)
_faccessat = _bind(
    "faccessat", [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int], ctypes.c_int
)
_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100


def _holding() -> bool:
    return monotonic() >= _released_until


def _took(started: float) -> None:
    """Note how long a held call took; a slow one sends the next ones through os for a while."""
    if monotonic() - started > SLOW_SECONDS:
        release(RELEASE_SECONDS)


def release(seconds: float) -> None:
    """Send every call through ``os`` (giving the GIL up) for ``seconds`` from now; 0 holds again.

    Tests that put faults into ``os`` functions use it, so that their faults are met.
    """
    global _released_until
    _released_until = monotonic() + seconds


def _error(path: PathText | None = None, other: PathText | None = None) -> OSError:
    code = ctypes.get_errno()
    # OSError(errno, text, path, None, path2) becomes the matching subclass, as os's own do.
    first = os.fsdecode(path) if path is not None else None
    second = os.fsdecode(other) if other is not None else None
    return OSError(code, os.strerror(code), first, None, second)


def _timed_once(func: Callable[..., int], *args: Any) -> int:
    started = monotonic()
    result = func(*args)
    _took(started)
    return result


def _call(func: Callable[..., int], *args: Any) -> int:
    """``func(*args)`` with the GIL held, again after EINTR as ``os`` does (PEP 475), timed."""
    while True:
        result = _timed_once(func, *args)
        if result >= 0 or ctypes.get_errno() != errno.EINTR:
            return result


def open_fd(path: PathText, flags: int, mode: int = 0o777) -> int:
    """``os.open(path, flags, mode)``."""
    if _open is None or not _holding():
        return os.open(path, flags, mode)
    fd = _call(_open, os.fsencode(path), flags, mode)
    if fd < 0:
        raise _error(path)
    return fd


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``; a write that makes no progress is ENOSPC."""
    done = 0
    while done < len(data):
        rest = data[done:] if done else data
        if _write is None or not _holding():
            written = os.write(fd, rest)
        else:
            written = _call(_write, fd, rest, len(rest))
            if written < 0:
                raise _error()
        if written == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        done += written


def close(fd: int) -> None:
    """``os.close(fd)``."""
    if _close is None or not _holding():
        os.close(fd)
    # Not again after EINTR: on Linux the descriptor is gone by then, and may be reused.
    elif _timed_once(_close, fd) < 0 and ctypes.get_errno() != errno.EINTR:
        raise _error()


def link(src: PathText, dst: PathText) -> None:
    """``os.link(src, dst)``."""
    if _link is None or not _holding():
        os.link(src, dst)
    elif _call(_link, os.fsencode(src), os.fsencode(dst)) < 0:
        raise _error(src, dst)


def unlink(path: PathText) -> None:
    """``os.unlink(path)``."""
    if _unlink is None or not _holding():
        os.unlink(path)
    elif _call(_unlink, os.fsencode(path)) < 0:
        raise _error(path)


def fchmod(fd: int, mode: int) -> None:
    """``os.fchmod(fd, mode)``."""
    if _fchmod is None or not _holding():
        os.fchmod(fd, mode)
    elif _call(_fchmod, fd, mode) < 0:
        raise _error()


def lexists(path: PathText) -> bool:
    """``os.path.lexists(path)``: whether the name exists (a broken symlink does)."""
    if _faccessat is None or not _holding():
        return os.path.lexists(path)
    try:
        encoded = os.fsencode(path)
    except (TypeError, ValueError):
        return False
    if b"\0" in encoded:
        return False  # os.path.lexists says False where the name cannot exist
    if _call(_faccessat, _AT_FDCWD, encoded, os.F_OK, _AT_SYMLINK_NOFOLLOW) == 0:
        return True
    if ctypes.get_errno() in (errno.ENOENT, errno.ENOTDIR):
        return False
    # Anything else (a libc without AT_SYMLINK_NOFOLLOW here says EINVAL): ask os; a name
    # wrongly said free would only be refused later, but as an error.
    return os.path.lexists(path)
