"""Crash at every step of atomic_write and move_file, then replay: nothing is lost.

The crash is real: a forked child runs the operation and dies with
``os._exit`` (no ``finally``, no clean-up) just before its n-th system call;
the parent then checks the folders and replays the operation. n grows until
the child gets to the end without dying.
"""

from __future__ import annotations

import errno
import itertools
import os
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from hrec_ingest.fsops import CHUNK_BYTES, MoveResult, atomic_write, move_file, sweep_temporaries

# Every call that changes a file, a name or what is on disk.
WATCHED = (
    "open",
    "write",
    "sendfile",
    "fsync",
    "fchmod",
    "utime",
    "link",
    "unlink",
    "rename",
    "mkdir",
    "chmod",
)
CRASHED = 86


def crash_before_call(
    step: int, action: Callable[[], object], setup: Callable[[], None] = lambda: None
) -> bool:
    """Run ``action`` in a child dying before its ``step``-th watched call; True if it finished."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is not collected
        code = 1
        try:
            setup()
            counter = itertools.count()
            for name in WATCHED:
                real = getattr(os, name)

                def wrapper(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
                    if next(counter) == step:
                        os._exit(CRASHED)
                    return _real(*args, **kwargs)

                setattr(os, name, wrapper)
            action()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    assert code in (0, CRASHED), f"the child failed with {code}"
    return code == 0


def exdev_from(folder: Path) -> Callable[..., None]:
    """os.link that refuses, as across file systems, to link files out of ``folder``."""
    real = os.link

    def link(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(src).parent == folder:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src))
        real(src, dst, *args, **kwargs)

    return link


def hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")] if folder.exists() else []


def one_move_run(base: Path, step: int, data: bytes, across: bool) -> bool:
    inbox = base / "inbox"
    inbox.mkdir(parents=True)
    src = inbox / "call.wav"
    src.write_bytes(data)
    os.chmod(src, 0o604)
    dst = base / "archive" / "tenant" / "call.wav"

    def setup() -> None:
        if across:
            os.link = exdev_from(inbox)

    finished = crash_before_call(step, lambda: move_file(src, dst), setup)
    # At every instant one of the two holds the whole file.
    held = [p for p in (src, dst) if p.exists() and p.read_bytes() == data]
    assert held, f"crash before call {step} lost the file"

    with pytest.MonkeyPatch.context() as patch:
        if across:
            patch.setattr(os, "link", exdev_from(inbox))
        result = move_file(src, dst)
    assert not src.exists()
    assert dst.read_bytes() == data
    assert (dst.stat().st_mode & 0o777) == 0o604
    assert hidden(dst.parent) == []
    if finished:
        assert result is MoveResult.ALREADY_DONE
    else:
        assert result in set(MoveResult)
    return finished


@pytest.mark.parametrize("across", [False, True], ids=["same-fs", "across-fs"])
def test_move_survives_a_crash_before_any_call(tmp_path: Path, across: bool) -> None:
    data = os.urandom(2 * CHUNK_BYTES + 123)  # several sendfile() calls
    steps = 0
    while not one_move_run(tmp_path / str(steps), steps, data, across):
        steps += 1
        assert steps < 200
    # The copy path has many more steps than the rename: the test did go through it.
    assert steps >= (12 if across else 4)


def test_atomic_write_survives_a_crash_before_any_call(tmp_path: Path) -> None:
    steps = 0
    while True:
        target = tmp_path / str(steps) / "out" / "call.json"
        finished = crash_before_call(steps, partial(atomic_write, target, b"payload"))
        if target.exists():
            assert target.read_bytes() == b"payload"  # never a partial file under the final name
        atomic_write(target, b"payload")
        sweep_temporaries(target.parent)
        assert target.read_bytes() == b"payload"
        assert hidden(target.parent) == []
        if finished:
            break
        steps += 1
        assert steps < 100
    assert steps >= 6
