"""Intake: checks each stable file by content and hashes it before it may join a batch.

Empty files, files that are not audio and files above BATCH_MAX_BYTES go to
FAILED_DIR at stage ``validate`` without being sent. A file that changes while
it is being read is let go; the watcher will take it again once it is stable.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
from dataclasses import dataclass
from typing import Any

import structlog

from hrec_ingest import diskwork, heldcalls
from hrec_ingest.audio import AudioInfo, NotAudioError, sniff_open_file
from hrec_ingest.fsops import sha256_fd
from hrec_ingest.journal import NewFile
from hrec_ingest.pipeline.batcher import ReadyFile
from hrec_ingest.pipeline.claims import Claims
from hrec_ingest.pipeline.outcomes import Outcomes, error_doc
from hrec_ingest.pipeline.watcher import Signature, StableFile

log = structlog.get_logger(__name__)

# One thread hop examines at most this many files, or a little past this many bytes.
EXAMINE_MAX_FILES = 16
EXAMINE_MAX_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Examined:
    audio: AudioInfo | None
    sha256: str
    problem: NotAudioError | None
    changed: bool


def audio_facts(info: AudioInfo | None) -> dict[str, Any] | None:
    """What the transcript JSON's ``source`` says about the audio."""
    if info is None:
        return None
    facts: dict[str, Any] = {"format": info.format}
    if info.duration_seconds is not None:
        facts["durationSeconds"] = round(info.duration_seconds, 3)
    if info.channels is not None:
        facts["channels"] = info.channels
    if info.sample_rate is not None:
        facts["sampleRate"] = info.sample_rate
    return facts


def _examine(stable: StableFile, max_bytes: int) -> _Examined:
    """Sniff and hash a stable file through one open of it.

    Checked before opening (a device or FIFO is not opened at all), opened
    without following a symbolic link, checked again through the open file
    (it must still be the file the watcher saw), and looked at once more by
    path at the end: a file written to or replaced meanwhile is ``changed``.
    """
    if not stat.S_ISREG(os.lstat(stable.path).st_mode):
        return _Examined(None, "", None, changed=True)
    try:
        fd = heldcalls.open_fd(
            stable.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # became a symbolic link since the lstat
            return _Examined(None, "", None, changed=True)
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or Signature.of(st) != stable.signature:
            return _Examined(None, "", None, changed=True)
        try:
            info: AudioInfo | None = sniff_open_file(fd, st, max_bytes=max_bytes)
            problem = None
        except NotAudioError as exc:
            info, problem = None, exc
        digest = sha256_fd(fd, st.st_size) if st.st_size <= max_bytes else ""
    finally:
        heldcalls.close(fd)
    changed = Signature.of(os.lstat(stable.path)) != stable.signature
    return _Examined(info, digest, problem, changed)


def _examine_each(files: list[StableFile], max_bytes: int) -> list[_Examined | Exception]:
    # Each file's failure is its own: a bug met by one must not let its neighbours go.
    results: list[_Examined | Exception] = []
    for stable in files:
        try:
            results.append(_examine(stable, max_bytes))
        except Exception as exc:
            results.append(exc)
    return results


class Intake:
    """Stable files in, validated files out (or to FAILED_DIR)."""

    def __init__(
        self,
        source: asyncio.Queue[StableFile],
        output: asyncio.Queue[ReadyFile],
        outcomes: Outcomes,
        claims: Claims,
        max_bytes: int,
        workers: int = 4,
    ) -> None:
        self.source = source
        self.output = output
        self.outcomes = outcomes
        self.claims = claims
        self.max_bytes = max_bytes
        self.workers = workers

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self.workers):
                group.create_task(self._work())

    async def _work(self) -> None:
        while True:
            files = await self._take()
            results = await diskwork.in_thread(_examine_each, files, self.max_bytes)
            for stable, examined in zip(files, results, strict=True):
                try:
                    await self.settle(stable, examined)
                except Exception:
                    # One file must not stop the stage: let it go, the watcher takes it again.
                    log.exception("file.intake_crashed", tenant=stable.tenant, file=stable.rel_path)
                    self.claims.release((stable.tenant, stable.rel_path))

    async def _take(self) -> list[StableFile]:
        """The next stable file, and those already waiting behind it, up to a bound.

        They are examined in one thread hop: a hop per file cost more CPU than
        checking a small file. The bound keeps one hop from holding up the
        others' files behind a big one for long.
        """
        files = [await self.source.get()]
        size = files[0].signature.size
        while (
            len(files) < EXAMINE_MAX_FILES and size < EXAMINE_MAX_BYTES and not self.source.empty()
        ):
            files.append(self.source.get_nowait())
            size += files[-1].signature.size
        return files

    async def settle(self, stable: StableFile, examined: _Examined | Exception) -> None:
        """Pass one examined file on, fail it, or let it go."""
        key = (stable.tenant, stable.rel_path)
        if isinstance(examined, Exception) and not isinstance(examined, OSError):
            raise examined
        if isinstance(examined, OSError):
            log.info(
                "file.vanished", tenant=stable.tenant, file=stable.rel_path, error=str(examined)
            )
            self.claims.release(key)
            return
        if examined.changed:
            log.info("file.changed_while_read", tenant=stable.tenant, file=stable.rel_path)
            self.claims.release(key)
            return
        if examined.problem is not None:
            new = NewFile(
                stable.tenant,
                stable.rel_path,
                stable.signature.size,
                stable.signature.mtime_ns,
                stable.signature.inode,
                examined.sha256,
                None,
            )
            doc = error_doc(
                new,
                stage="validate",
                name=examined.problem.name,
                message=str(examined.problem),
            )
            try:
                await self.outcomes.fail_new(new, doc)
            except OSError as exc:
                # The journal holds it as failing and keeps its path claimed; the
                # exporter's periodic replay finishes the move once the disk allows.
                log.error(
                    "file.fail_deferred", tenant=new.tenant, file=new.rel_path, error=str(exc)
                )
            return
        await self.output.put(ReadyFile(stable, examined.sha256, audio_facts(examined.audio)))
