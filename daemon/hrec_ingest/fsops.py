"""File operations that survive crashes: atomic writes, idempotent moves, collision-free names.

All functions are synchronous and block on disk I/O: from asyncio code, call
them through ``diskwork.in_thread`` (their fsyncs let other workers go on).

Nothing is ever overwritten. A file gets its final name with ``link()``,
which fails if the name is taken, so even two writers racing for one name
cannot clobber each other; the temporary name is unlinked afterwards. On file
systems (or policies, such as ``fs.protected_hardlinks`` for files the
daemon does not own) that refuse hard links, the fallback is ``rename()``
after checking that the name is free: atomic for the reader, but no longer
race-free against another writer. The daemon's journal already gives each
name one writer, so the fallback stays safe in practice.

Temporary files are hidden, in the folder of their final name, and named
``.<name>.<16 hex digits>.hrec.tmp`` (a write) or ``.<name>.move.hrec.tmp`` (a
copy across file systems, one per destination so a replay finds it).
:func:`sweep_temporaries` removes only names of exactly that shape.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import re
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from hrec_ingest import diskwork, heldcalls

PathText = str | os.PathLike[str]  # a path as text or as an object (Path)

__all__ = [
    "CHUNK_BYTES",
    "DIR_MODE",
    "FILE_MODE",
    "NAME_MAX_BYTES",
    "MoveResult",
    "atomic_write",
    "atomic_write_many",
    "ensure_dir",
    "file_mode",
    "fit_bytes",
    "free_name",
    "fsync_dir",
    "is_temporary",
    "move_file",
    "move_files",
    "sha256_fd",
    "sha256_file",
    "split_ext",
    "stem_for",
    "sweep_temporaries",
    "temp_name",
    "use_umask",
]

CHUNK_BYTES = 1 << 20
# Hashing starts with at least this much buffer: below glibc's mmap threshold, so cheap.
SMALL_READ_BYTES = 64 << 10
# The modes of UMASK's default, 0027. The daemon calls use_umask() with its UMASK at start.
DIR_MODE = 0o750
FILE_MODE = 0o640
_umask = 0o027
NAME_MAX_BYTES = 255
TEMP_SUFFIX = ".hrec.tmp"
MOVE_TAG = "move"
# After this many counters, something is wrong with the folder (or `exists`).
MAX_NAME_TRIES = 10_000

_TEMP_RE = re.compile(r"\..+\.(?:[0-9a-f]{16}|move)\.hrec\.tmp", re.DOTALL)
# link() errors meaning "no hard links here", as opposed to real failures.
_NO_LINK = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})
# fsync() on a directory is refused by some file systems; there is nothing more to flush then.
_NO_DIR_SYNC = frozenset({errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP})


class MoveResult(StrEnum):
    """What :func:`move_file` did."""

    RENAMED = "renamed"  # within one file system
    COPIED = "copied"  # across file systems: copied, synced, then the source removed
    ALREADY_DONE = "already_done"  # the source was gone and the destination there
    COMPLETED = "completed"  # both existed with the same content: the source was removed


# --- names ------------------------------------------------------------------------------------


def split_ext(name: str) -> tuple[str, str]:
    """``("call", ".wav")``: the last extension only; hidden names and ``"x."`` have none."""
    dot = name.rfind(".")
    if dot <= 0 or dot == len(name) - 1:
        return name, ""
    return name[:dot], name[dot:]


def stem_for(name: str) -> str:
    """The name without its last extension: transcripts of ``call.T.wav`` are ``call.T.json``."""
    return split_ext(name)[0]


def fit_bytes(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that is at most ``limit`` bytes, cut between characters.

    Bytes are counted as the file system sees them (``os.fsencode``: UTF-8,
    undecodable bytes kept as they were).
    """
    if len(os.fsencode(text)) <= limit:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += len(os.fsencode(ch))
        if used > limit:
            return text[:i]
    return text


def _default_exists(path: Path) -> bool:
    # lexists: a dangling symbolic link still holds its name.
    return os.path.lexists(path)


def _check_part(value: str, what: str) -> None:
    if not value or value in {".", ".."} or "/" in value or "\0" in value:
        raise ValueError(f"{what} {value!r} cannot be part of a file name")


def _candidate(stem: str, ext: str, suffix: str, limit: int) -> str:
    """``stem + suffix + ext`` within ``limit`` bytes, shortening the stem only."""
    if len(os.fsencode(suffix + ext)) >= limit:
        # An extension that leaves no room for a stem is just more stem.
        stem, ext = stem + ext, ""
    room = limit - len(os.fsencode(suffix + ext))
    short = fit_bytes(stem, room)
    if not short:
        raise ValueError(f"no room for a file name with {suffix!r} in {limit} bytes")
    return f"{short}{suffix}{ext}"


def free_name(
    folder: Path,
    name: str,
    task_id: str,
    exists: Callable[[Path], bool] = _default_exists,
    *,
    reserve: int = 0,
) -> str:
    """A name in ``folder`` that ``exists`` says is free: ``name`` itself if possible.

    The collision rule of interface.md section 4: ``call.wav`` becomes
    ``call.<taskId>.wav``; if that is taken too, ``call.<taskId>.2.wav``, then
    ``.3`` and so on. Only the last extension moves (``a.tar.gz`` ->
    ``a.tar.<taskId>.gz``); a name without one gets the taskId at the end.
    Every candidate fits in 255 bytes minus ``reserve`` (room for a suffix
    the caller adds later, such as ``.error.json``): the stem is shortened at
    a character boundary, the extension kept. The answer is only as good as
    the moment: the write that follows must still refuse to overwrite.

    Example: ``free_name(Path("/archive"), "call.wav", "T1")`` is
    ``"call.wav"``, or ``"call.T1.wav"`` when ``/archive/call.wav`` exists.
    """
    return free_name_by(
        name, task_id, lambda candidate: exists(folder / candidate), reserve=reserve
    )


def free_name_by(name: str, task_id: str, taken: Callable[[str], bool], *, reserve: int = 0) -> str:
    """:func:`free_name`, with ``taken(candidate)`` asked about each candidate name."""
    _check_part(name, "name")
    _check_part(task_id, "task id")
    limit = NAME_MAX_BYTES - reserve
    stem, ext = split_ext(name)
    for attempt in range(MAX_NAME_TRIES):
        if attempt == 0:
            suffix = ""
        elif attempt == 1:
            suffix = f".{task_id}"
        else:
            suffix = f".{task_id}.{attempt}"
        candidate = _candidate(stem, ext, suffix, limit)
        if not taken(candidate):
            return candidate
    raise FileExistsError(errno.EEXIST, f"no free name after {MAX_NAME_TRIES} tries", name)


def temp_name(name: str, tag: str) -> str:
    """The hidden temporary name for ``name``: ``.<name>.<tag>.hrec.tmp``, within 255 bytes."""
    room = NAME_MAX_BYTES - len(os.fsencode(f"..{tag}{TEMP_SUFFIX}"))
    return f".{fit_bytes(name, room)}.{tag}{TEMP_SUFFIX}"


def _move_temp(dst: Path) -> Path:
    return dst.parent / temp_name(dst.name, MOVE_TAG)


# --- syncing ----------------------------------------------------------------------------------


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (names created, renamed, removed) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        diskwork.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_DIR_SYNC:
            raise
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        diskwork.fsync(fd)
    finally:
        os.close(fd)


def use_umask(umask: int) -> None:
    """Give files written from now on mode ``0o666 & ~umask``, folders ``0o777 & ~umask``.

    The process umask is not enough: it may differ from UMASK (a library, a
    test), and the modes are part of the contract, so they are set exactly.
    """
    global _umask
    _umask = umask


def file_mode() -> int:
    """The mode of files written when the caller names none: ``0o666 & ~UMASK`` (0o640)."""
    return 0o666 & ~_umask


def _file_mode(mode: int | None) -> int:
    return file_mode() if mode is None else mode


def ensure_dir(path: Path, mode: int | None = None) -> None:
    """Create ``path`` and missing parents with exactly ``mode``, each made durable.

    The default mode comes from the umask (0o750 for 0027).
    """
    mode = 0o777 & ~_umask if mode is None else mode
    missing: list[Path] = []
    probe = path
    while not probe.is_dir() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            if not folder.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(folder)) from None
            continue
        # mkdir's mode passes through the umask; the folders' mode is part of the contract.
        os.chmod(folder, mode)
        fsync_dir(folder.parent)


# --- helpers ----------------------------------------------------------------------------------


def _unlink_quietly(path: PathText) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _link_no_clobber(src: PathText, dst: PathText) -> bool:
    """Give ``src``'s file the extra name ``dst``; False when this file system cannot.

    Raises FileExistsError if ``dst`` exists, and OSError(EXDEV) across file systems.
    """
    try:
        heldcalls.link(src, dst)
    except OSError as exc:
        if exc.errno in _NO_LINK:
            return False
        raise
    return True


def _rename_no_clobber(src: PathText, dst: PathText) -> None:
    # The fallback where hard links are refused: checked, then renamed (see the module docstring).
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), os.fspath(dst))
    os.rename(src, dst)


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a regular file's content, read in 1 MiB chunks.

    Opened non-blocking and checked after opening: a FIFO put in the file's
    place raises OSError(EINVAL) instead of hanging the caller.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return sha256_fd(fd, st.st_size)
    finally:
        os.close(fd)


def sha256_fd(fd: int, size: int) -> str:
    """The hex SHA-256 of the open regular file ``fd``, whole; ``size`` is its fstat size.

    Read at offsets, so whatever read ``fd`` before (intake's sniffing) does not matter,
    and to the end, however long the file has grown since ``size`` was taken.
    """
    digest = hashlib.sha256()
    # A buffer the file's size (one byte more to meet the end in the same read), not
    # a whole chunk: zeroing 1 MiB for a 32 KB recording cost more than hashing it.
    buffer = bytearray(min(CHUNK_BYTES, max(size + 1, SMALL_READ_BYTES)))
    view = memoryview(buffer)
    offset = 0
    # Reading and hashing a large file holds no GIL: the other workers go on meanwhile.
    with diskwork.turn_released() if size > CHUNK_BYTES else nullcontext():
        while count := os.preadv(fd, [buffer], offset):
            digest.update(view[:count])
            offset += count
    return digest.hexdigest()


def _same_content(a: Path, b: Path) -> bool:
    sa, sb = os.lstat(a), os.lstat(b)
    if not (stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode)):
        return False
    if (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino):
        return True
    return sa.st_size == sb.st_size and sha256_file(a) == sha256_file(b)


def _holds(path: PathText, data: bytes) -> bool:
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
        return False
    with open(path, "rb") as stream:
        return stream.read() == data


# --- atomic write -----------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Make ``path`` hold ``data``, all or nothing, durably, never replacing another file.

    Writes a hidden temporary file beside ``path`` with ``mode`` (default:
    from the umask, 0o640; missing folders 0o750), syncs it, gives it its
    name without overwriting, then syncs the folder. Writing the same bytes
    again is a no-op (a replay after a crash); if ``path`` holds anything
    else, FileExistsError. On any failure the temporary file is removed and
    the OSError raised (a full disk as errno ENOSPC).
    """
    atomic_write_many([(path, data)], mode=mode)


def _temp_tag() -> str:
    # Only unlikely to collide, not unguessable: O_EXCL refuses a name that exists, and
    # random's generator costs no system call, where secrets' reads the kernel's per name.
    return f"{random.getrandbits(64):016x}"


# A group's files are written, then synced, then named, this many at a time. Syncing
# only once all are written lets the file system flush them together (on a journaled
# ext4 the first fsync commits the others' data too), where syncing each right after
# its write waits for one journal commit per file. The bound keeps descriptors few.
WRITE_AHEAD_FILES = 32


@dataclass(slots=True)
class _Temp:
    """A file written under its temporary name, not yet synced or named."""

    path: PathText  # as the caller gave it, for ``on_named``
    target: str
    tmp: str
    data: bytes
    fd: int | None


def atomic_write_many(
    items: Iterable[tuple[PathText, bytes]],
    *,
    mode: int | None = None,
    keep_existing: bool = False,
    on_named: Callable[[PathText], None] | None = None,
) -> None:
    """:func:`atomic_write` for several files, with the syncs gathered.

    Every file is synced before it gets its name, as with ``atomic_write``;
    but up to ``WRITE_AHEAD_FILES`` are written before the first is synced,
    and each folder is synced once at the end. So when this returns every
    file is as durable as after ``atomic_write``. ``items`` may be a
    generator, so that each file's bytes are made only when it is written.
    With ``keep_existing``, a name that is already taken is left as it is
    (the caller knows only an earlier run of the same write can hold it);
    without, it must hold the same bytes or FileExistsError is raised.
    ``on_named(path)`` is called as each file gets its name. If this raises,
    no temporary file is left; the files named so far exist but may not
    survive a power cut: write them again.
    """
    mode = _file_mode(mode)
    folders: dict[str, None] = {}
    pending: list[_Temp] = []
    try:
        for path, data in items:
            # Paths as text from here: pathlib's joins cost more than the system calls on tmpfs.
            target = os.fspath(path)
            folder = os.path.dirname(target)
            if folder not in folders:
                ensure_dir(Path(folder))
                folders[folder] = None
            pending.append(_write_temp(path, target, data, mode))
            if len(pending) >= WRITE_AHEAD_FILES:
                _sync_and_name(pending, keep_existing, on_named)
        _sync_and_name(pending, keep_existing, on_named)
    except BaseException:
        for temp in pending:
            if temp.fd is not None:
                os.close(temp.fd)
            _unlink_quietly(temp.tmp)
        raise
    for folder in folders:
        fsync_dir(Path(folder))


def _write_temp(path: PathText, target: str, data: bytes, mode: int) -> _Temp:
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, temp_name(name, _temp_tag()))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = heldcalls.open_fd(tmp, flags, mode)
    temp = _Temp(path, target, tmp, data, fd)
    try:
        heldcalls.fchmod(fd, mode)  # the umask must not change the contract's mode
        heldcalls.write_all(fd, data)
    except BaseException:
        heldcalls.close(fd)
        _unlink_quietly(tmp)
        raise
    return temp


def _sync_and_name(
    pending: list[_Temp], keep_existing: bool, on_named: Callable[[PathText], None] | None
) -> None:
    """Sync then name every file of ``pending``, emptying it as each is done."""
    for temp in pending:
        assert temp.fd is not None
        fd, temp.fd = temp.fd, None
        try:
            diskwork.fsync(fd)
        finally:
            heldcalls.close(fd)
    while pending:
        temp = pending[0]
        try:
            if _link_no_clobber(temp.tmp, temp.target):
                heldcalls.unlink(temp.tmp)
            else:
                _rename_no_clobber(temp.tmp, temp.target)
        except FileExistsError:
            if not keep_existing and not _holds(temp.target, temp.data):
                raise
            os.unlink(temp.tmp)
        pending.pop(0)
        if on_named is not None:
            on_named(temp.path)


# --- move -------------------------------------------------------------------------------------


def move_file(src: Path, dst: Path) -> MoveResult:
    """Move a regular file to ``dst`` (which must not hold anything else); safe to replay.

    Within a file system: a hard link then unlink (or a checked rename).
    Across file systems: a copy to a temporary name beside ``dst``, synced,
    named ``dst``, the folder synced, and only then the source unlinked. A
    replay after a crash at any point finishes the job: source gone and
    ``dst`` present means done; both present with the same content (same
    file, or same size and SHA-256) means only the source's removal was
    missing; a half-made copy is started again. ``dst`` with other content
    raises FileExistsError; neither present raises FileNotFoundError.
    """
    try:
        src_stat = os.lstat(src)
    except FileNotFoundError:
        if os.path.lexists(dst):
            _unlink_quietly(_move_temp(dst))
            return MoveResult.ALREADY_DONE
        raise
    if not stat.S_ISREG(src_stat.st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(src))
    if os.path.lexists(dst):
        return _finish(src, dst)
    ensure_dir(dst.parent)
    try:
        linked = _link_no_clobber(src, dst)
        if not linked:
            _rename_no_clobber(src, dst)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        _copy_across(src, dst, src_stat)
        return MoveResult.COPIED
    fsync_dir(dst.parent)
    if linked:
        _unlink_linked_source(src, src_stat)
    fsync_dir(src.parent)
    return MoveResult.RENAMED


def _unlink_linked_source(src: Path, linked: os.stat_result) -> None:
    """Remove the source's name after its link, unless a new file has taken that name.

    Between the link and this unlink (the destination folder's fsync), a
    producer may drop a new file under the same name (written beside and
    renamed in); unlinking by name would delete it unseen. The name is
    checked against the linked file's inode first, which leaves a window of
    two system calls instead of an fsync. A new file is left to the watcher.
    """
    try:
        current = os.lstat(src)
    except FileNotFoundError:
        return
    if (current.st_dev, current.st_ino) == (linked.st_dev, linked.st_ino):
        heldcalls.unlink(src)


def move_files(moves: Sequence[tuple[Path, Path]]) -> list[MoveResult]:
    """:func:`move_file` for several ``(src, dst)`` pairs, syncing each folder once.

    The common case (a regular source, a free destination, hard links on one
    file system) keeps move_file's order for every file, gathered: all
    destination names made, their folders synced, then all sources removed
    and their folders synced. So a source is gone for good only once its new
    name is durable, and a crash at any point leaves what ``move_file``
    replays. Any other pair goes through ``move_file`` itself. Results are in
    the order of ``moves``.
    """
    results: list[MoveResult | None] = [None] * len(moves)
    linked: dict[int, os.stat_result] = {}
    made: dict[Path, None] = {}
    for index, (src, dst) in enumerate(moves):
        try:
            src_stat = os.lstat(src)
            fresh = stat.S_ISREG(src_stat.st_mode) and not heldcalls.lexists(dst)
        except FileNotFoundError:
            fresh = False
        if fresh:
            if dst.parent not in made:
                ensure_dir(dst.parent)
                made[dst.parent] = None
            try:
                if _link_no_clobber(src, dst):
                    linked[index] = src_stat
                    continue
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EEXIST):
                    raise
        results[index] = move_file(src, dst)
    for folder in dict.fromkeys(moves[i][1].parent for i in linked):
        fsync_dir(folder)
    for index, src_stat in linked.items():
        _unlink_linked_source(moves[index][0], src_stat)
        results[index] = MoveResult.RENAMED
    for folder in dict.fromkeys(moves[i][0].parent for i in linked):
        fsync_dir(folder)
    done = [r for r in results if r is not None]
    assert len(done) == len(moves)
    return done


def _finish(src: Path, dst: Path) -> MoveResult:
    """Both names exist: remove the source if ``dst`` is the same file or an identical copy."""
    if src.name == dst.name and os.path.samefile(src.parent, dst.parent):
        raise ValueError(f"cannot move {src} onto itself")
    if not _same_content(src, dst):
        raise FileExistsError(errno.EEXIST, "destination exists with other content", str(dst))
    # The copy may be there only in the page cache (the crash was a kill, not a power cut).
    _fsync_file(dst)
    fsync_dir(dst.parent)
    os.unlink(src)
    fsync_dir(src.parent)
    _unlink_quietly(_move_temp(dst))
    return MoveResult.COMPLETED


def _copy_across(src: Path, dst: Path, src_stat: os.stat_result) -> None:
    tmp = _move_temp(dst)
    _unlink_quietly(tmp)  # a copy cut short by a crash starts over
    try:
        _copy_to_temp(src, tmp, src_stat)
        if _link_no_clobber(tmp, dst):
            os.unlink(tmp)
        else:
            _rename_no_clobber(tmp, dst)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    fsync_dir(dst.parent)
    os.unlink(src)
    fsync_dir(src.parent)


def _copy_to_temp(src: Path, tmp: Path, src_stat: os.stat_result) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd_in = os.open(src, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        fd_out = os.open(tmp, flags, 0o600)
        try:
            with diskwork.turn_released():
                _copy_fd(fd_in, fd_out)
            os.fchmod(fd_out, stat.S_IMODE(src_stat.st_mode))
            os.utime(fd_out, ns=(src_stat.st_atime_ns, src_stat.st_mtime_ns))
            diskwork.fsync(fd_out)
            copied = os.fstat(fd_out).st_size
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)
    if copied != src_stat.st_size:
        raise OSError(errno.EIO, f"source changed size while copied ({copied} bytes)", str(src))


def _copy_fd(fd_in: int, fd_out: int) -> None:
    """Copy in the kernel with sendfile(); plain reads and writes where it is not supported."""
    offset = 0
    try:
        while sent := os.sendfile(fd_out, fd_in, offset, CHUNK_BYTES):
            offset += sent
        return
    except OSError as exc:
        if offset or exc.errno not in {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP}:
            raise
    while chunk := os.read(fd_in, CHUNK_BYTES):
        _write_all(fd_out, chunk)


# --- sweeping ---------------------------------------------------------------------------------


def is_temporary(name: str) -> bool:
    """Whether ``name`` is one of this module's temporary names."""
    return _TEMP_RE.fullmatch(name) is not None


def sweep_temporaries(folder: Path, *, min_age_seconds: float = 0.0) -> list[Path]:
    """Remove our temporary files left by a crash in ``folder`` and below; returns them.

    Only regular files named as this module names them are touched; symbolic
    links are not followed. With several writers sharing the folders, pass a
    ``min_age_seconds`` longer than any write takes, so that another writer's
    temporary file in use is left alone.
    """
    removed: list[Path] = []
    cutoff = time.time() - min_age_seconds
    pending = [folder]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                pending.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) and is_temporary(entry.name):
                try:
                    stale = entry.stat(follow_symlinks=False).st_mtime <= cutoff
                except FileNotFoundError:  # its writer finished meanwhile
                    continue
                if stale:
                    _unlink_quietly(Path(entry.path))
                    removed.append(Path(entry.path))
    return removed
