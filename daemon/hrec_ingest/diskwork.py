"""The pipeline's blocking file work, in worker threads that take turns except while they wait.

The stages hand their file work to worker threads so that the event loop never
waits for the disk: sniffing and hashing new audio, reading small uploads,
writing transcripts, moving audio, appending to the manifest. Most of that work
is a string of quick system calls, and each one gives up the GIL and has to win
it back. With several threads at it at once, every call became a hand-off
between them and the event loop: in the ``zero`` benchmark the threads did about
50 context switches per file and used about 40 % of the daemon's CPU.

So a worker holds *the turn* while it works, and gives it up only while it
waits for the disk (``fsync``) or runs long C code that does not need the GIL
(hashing or copying a large file). Quick calls of different threads no longer
interleave, and the waits still overlap: a journaled file system commits the
fsyncs of several workers together. docs/benchmarks.md has the figures.
The quick calls themselves keep the GIL too, through :mod:`hrec_ingest.heldcalls`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

__all__ = ["fsync", "in_thread", "turn_released"]

P = ParamSpec("P")
R = TypeVar("R")

_TURN = threading.Lock()
_this_thread = threading.local()


async def in_thread(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    """``asyncio.to_thread(func, *args, **kwargs)``, with ``func`` holding the turn while it runs.

    For a short piece of blocking file work. A long wait inside ``func`` goes in
    :func:`turn_released` (``fsync`` here does), so that the other workers go on.
    """
    return await asyncio.to_thread(_with_turn, func, *args, **kwargs)


def _with_turn(func: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> R:
    with _TURN:
        _this_thread.has_turn = True
        try:
            return func(*args, **kwargs)
        finally:
            _this_thread.has_turn = False


@contextmanager
def turn_released() -> Iterator[None]:
    """Let another worker take the turn while this block runs; a no-op outside :func:`in_thread`.

    For blocking calls that wait (the disk) or run without the GIL (hashing,
    copying in the kernel), not for Python work.
    """
    if not getattr(_this_thread, "has_turn", False):
        yield
        return
    _this_thread.has_turn = False
    _TURN.release()
    try:
        yield
    finally:
        _TURN.acquire()
        _this_thread.has_turn = True


def fsync(fd: int) -> None:
    """``os.fsync(fd)``, letting the other workers take the turn while the disk commits."""
    with turn_released():
        os.fsync(fd)
