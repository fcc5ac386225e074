"""Batcher: groups validated files into tasks, one open batch per (tenant, language).

A batch closes when it holds BATCH_MAX_FILES files, when the next file would
take it past BATCH_MAX_BYTES, or BATCH_MAX_WAIT_SECONDS after its first file.
The decision is the pure function ``place``; the stage only feeds it and keeps
time. Open batches live in memory only: after a crash their files are still in
the inbox and are simply taken again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from hrec_ingest.pipeline.watcher import StableFile

log = structlog.get_logger(__name__)

# Files taken from a full queue before the batcher lets the event loop run others.
_TAKEN_AT_ONCE = 32


@dataclass(frozen=True, slots=True)
class ReadyFile:
    """A stable file that passed validation: its content hash and audio facts are known."""

    stable: StableFile
    sha256: str
    audio: dict[str, Any] | None

    @property
    def size(self) -> int:
        return self.stable.signature.size


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_files: int
    max_bytes: int
    max_wait_seconds: float


@dataclass
class Batch:
    tenant: str
    language: str
    opened_at: float
    files: list[ReadyFile] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def deadline(self, policy: BatchPolicy) -> float:
        return self.opened_at + policy.max_wait_seconds


def place(
    open_batch: Batch | None, file: ReadyFile, policy: BatchPolicy, now: float, language: str
) -> tuple[list[Batch], Batch | None]:
    """Add ``file`` to the tenant's open batch; return (batches now closed, batch left open).

    A file that would take the open batch past either limit closes it first and
    starts the next one, so no batch ever exceeds the limits and files keep
    their order.
    """
    closed: list[Batch] = []
    batch = open_batch
    if batch is not None and (
        len(batch.files) + 1 > policy.max_files or batch.size + file.size > policy.max_bytes
    ):
        closed.append(batch)
        batch = None
    if batch is None:
        batch = Batch(file.stable.tenant, language, now)
    batch.files.append(file)
    if len(batch.files) >= policy.max_files or batch.size >= policy.max_bytes:
        closed.append(batch)
        batch = None
    return closed, batch


class Batcher:
    """The stage around ``place``: files in, closed batches out."""

    def __init__(
        self,
        policy: BatchPolicy,
        languages: dict[str, str],
        source: asyncio.Queue[ReadyFile],
        output: asyncio.Queue[Batch],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.languages = languages
        self.source = source
        self.output = output
        self.clock = clock
        self.open: dict[tuple[str, str], Batch] = {}
        self._taken_at_once = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            file = await self._next_file()
            if file is None:
                await self._close_expired()
                continue
            tenant = file.stable.tenant
            language = self.languages[tenant]
            key = (tenant, language)
            closed, still_open = place(
                self.open.pop(key, None), file, self.policy, self.clock(), language
            )
            # How long after the watcher found it stable a file joins a batch (detection latency).
            log.debug(
                "file.batched",
                tenant=tenant,
                file=file.stable.rel_path,
                after_stable=round(self.clock() - file.stable.stable_at, 3),
            )
            if still_open is not None:
                self.open[key] = still_open
            for batch in closed:
                await self._emit(batch, "full")
            await self._close_expired()

    async def _next_file(self) -> ReadyFile | None:
        """The next file, or None when the first open batch's wait ran out before one came."""
        self._taken_at_once += 1
        if self._taken_at_once <= _TAKEN_AT_ONCE:
            try:
                # A burst keeps the queue full: taking from it directly spares a task
                # and a timer per file that wait_for would make.
                return self.source.get_nowait()
            except asyncio.QueueEmpty:
                pass
        else:
            await asyncio.sleep(0)  # let the other stages run between long runs of files
        self._taken_at_once = 0
        deadline = min((b.deadline(self.policy) for b in self.open.values()), default=None)
        timeout = None if deadline is None else max(0.0, deadline - self.clock())
        try:
            return await asyncio.wait_for(self.source.get(), timeout=timeout)
        except TimeoutError:
            return None

    async def _close_expired(self) -> None:
        now = self.clock()
        for key, batch in list(self.open.items()):
            if batch.deadline(self.policy) <= now:
                del self.open[key]
                await self._emit(batch, "waited")

    async def _emit(self, batch: Batch, why: str) -> None:
        log.debug(
            "batch.closed", tenant=batch.tenant, files=len(batch.files), bytes=batch.size, why=why
        )
        await self.output.put(batch)
