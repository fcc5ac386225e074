"""Watcher: finds files in the inbox and hands them on once they have stopped changing.

Three sources feed it, because each alone misses files: a full scan at start
(files already there), watchfiles events (fast), and a periodic rescan (events
can be dropped, and network file systems send none). A file is taken once its
size, mtime and inode have stayed the same for STABLE_SECONDS of our own clock.
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
import watchfiles

from hrec_ingest.pipeline.claims import Claims, InboxKey
from hrec_ingest.pipeline.delays import DelayQueue
from hrec_ingest.pipeline.rules import ignore_reason

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Signature:
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, st: os.stat_result) -> Signature:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino)


@dataclass(frozen=True, slots=True)
class StableFile:
    """A file that stopped changing, on its way to validation."""

    tenant: str
    rel_path: str
    path: Path
    signature: Signature
    stable_at: float  # monotonic time it was found stable


@dataclass(frozen=True, slots=True)
class InboxLayout:
    """How inbox paths map to tenants: FILES_DIR/<tenant>/... or FILES_DIR/... for one tenant."""

    files_dir: Path
    tenants: frozenset[str]
    multi_tenant: bool

    def locate(self, path: str | os.PathLike[str]) -> InboxKey | None:
        """(tenant, rel_path) of a path in the inbox, or None if no tenant owns it.

        Plain string work: a rescan asks this for every file of the inbox, and
        ``Path.relative_to`` costs ten times as much.
        """
        text, root = os.fspath(path), os.fspath(self.files_dir).rstrip(os.sep)
        if not text.startswith(root + os.sep):
            return None
        parts = [part for part in text[len(root) + 1 :].split(os.sep) if part]
        if not self.multi_tenant:
            (tenant,) = self.tenants
            return (tenant, "/".join(parts)) if parts else None
        if len(parts) < 2 or parts[0] not in self.tenants:
            return None
        return parts[0], "/".join(parts[1:])


@dataclass(eq=False)
class _Pending:
    """One observation of a file; its identity ties it to its entry in the due queue."""

    signature: Signature


@dataclass
class ScanResult:
    """What one scan found: files that may be taken, files never taken and why, stray folders.

    Each file comes with the clock's time just after its folder was read: its
    signature was true then, so its stable time counts from there, not from
    the end of a scan that may take seconds on a large inbox.
    """

    files: list[tuple[InboxKey, Signature, float]] = field(default_factory=list)
    ignored: list[tuple[InboxKey, str]] = field(default_factory=list)
    unknown_folders: set[str] = field(default_factory=set)


def scan_tree(
    layout: InboxLayout,
    audio_extensions: Collection[str],
    top: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ScanResult:
    """Every regular file below ``top`` (default: the whole inbox), without following links.

    Symbolic links are never followed or taken: a link is not a regular file,
    and following one could read outside the inbox. Hidden folders are not
    entered. Runs in a worker thread, and does there all the per-file work
    that needs no state of the watcher (naming, the ignore rules), so that
    the event loop spends little time on a large inbox.
    """
    result = ScanResult()
    root = os.fspath(layout.files_dir)
    stack = [root if top is None else top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError as exc:
            log.warning("watcher.scan_failed", folder=folder, error=str(exc))
            continue
        at_top = layout.multi_tenant and folder == root
        found: list[tuple[InboxKey, Signature]] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if at_top and (not stat.S_ISDIR(st.st_mode) or entry.name not in layout.tenants):
                result.unknown_folders.add(entry.name)
            elif stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
            elif stat.S_ISREG(st.st_mode) and (key := layout.locate(entry.path)) is not None:
                reason = ignore_reason(key[1].split("/"), audio_extensions)
                if reason is None:
                    found.append((key, Signature.of(st)))
                else:
                    result.ignored.append((key, reason))
        seen = clock()
        result.files.extend((key, signature, seen) for key, signature in found)
    return result


class Watcher:
    """The first stage: inbox in, stable files out (one StableFile per file, once)."""

    def __init__(
        self,
        layout: InboxLayout,
        *,
        audio_extensions: Collection[str],
        stable_seconds: float,
        rescan_seconds: float,
        claims: Claims,
        output: asyncio.Queue[StableFile],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.layout = layout
        self.audio_extensions = audio_extensions
        self.stable_seconds = stable_seconds
        self.rescan_seconds = rescan_seconds
        self.claims = claims
        self.output = output
        self.clock = clock
        self.unknown_folders: set[str] = set()
        self._pending: dict[InboxKey, _Pending] = {}
        # Each due entry carries the observation it was made for: a popped entry whose
        # observation is no longer the pending one was superseded or forgotten. Judging
        # by identity rather than by comparing times matters: a GIL hand-off between two
        # clock readings once left a file pending with no due entry, never taken.
        self._due: DelayQueue[tuple[InboxKey, _Pending]] = DelayQueue(clock)
        self._ignored_logged: set[str] = set()

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow events, scan, then rescan and release stable files until ``stop`` is set."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._follow_events(stop))
            # Events first: the follower's first step registers the watches, without
            # awaiting, and runs before this task resumes (tasks start in the order
            # made). A file dropped during the scan is then seen by one or the other,
            # instead of waiting RESCAN_SECONDS for the next scan.
            await asyncio.sleep(0)
            started = self.clock()
            found = await self.rescan()
            log.info(
                "watcher.scanned", first=True, files=found, seconds=round(self.clock() - started, 3)
            )
            group.create_task(self._rescan_periodically(stop))
            group.create_task(self._release_stable(stop))

    async def rescan(self, top: str | None = None) -> int:
        """Look at every file below ``top`` (default: the whole inbox); return how many."""
        result = await asyncio.to_thread(
            scan_tree, self.layout, self.audio_extensions, top, self.clock
        )
        for name in sorted(result.unknown_folders - self.unknown_folders):
            log.warning(
                "watcher.unknown_tenant_folder",
                folder=name,
                hint="no tenant of TENANTS_FILE has this name; its files are left untouched",
            )
        if top is None:
            self.unknown_folders = result.unknown_folders
        for key, reason in result.ignored:
            self._ignored(key, reason)
        for key, signature, seen in result.files:
            self._observe(key, signature, seen)
        return len(result.files) + len(result.ignored)

    def _ignored(self, key: InboxKey, reason: str) -> None:
        tenant, rel_path = key
        if rel_path not in self._ignored_logged and len(self._ignored_logged) < 10_000:
            self._ignored_logged.add(rel_path)
            log.info("watcher.ignored", tenant=tenant, file=rel_path, reason=reason)

    def _observe(self, key: InboxKey, signature: Signature, now: float) -> None:
        """Note a file as seen now; it is due once it has kept ``signature`` STABLE_SECONDS."""
        if key in self.claims:
            return
        pending = self._pending.get(key)
        if pending is not None and pending.signature == signature:
            return
        observed = self._pending[key] = _Pending(signature)
        self._due.put((key, observed), max(0.0, now + self.stable_seconds - self.clock()))

    async def _follow_events(self, stop: asyncio.Event) -> None:
        async for changes in watchfiles.awatch(
            self.layout.files_dir,
            stop_event=stop,
            debounce=200,
            step=20,
            recursive=True,
            watch_filter=None,
            ignore_permission_denied=True,
        ):
            await self.on_events(changes, self.clock())

    async def on_events(self, changes: Iterable[tuple[watchfiles.Change, str]], now: float) -> None:
        """Look at each path of one batch of events as it is now, whatever the event said.

        The batch is a set, so its order is arbitrary: a file deleted and made again
        within one batch may show its "deleted" last. A path gone is forgotten.
        """
        for raw in dict.fromkeys(raw for _, raw in changes):
            await self._on_changed(raw, now)

    async def _on_changed(self, path: str, now: float) -> None:
        try:
            st = os.lstat(path)
        except OSError:
            self._forget(path)
            return
        if stat.S_ISDIR(st.st_mode):
            # A folder moved in whole arrives as one event; its files come from a scan.
            await self.rescan(path)
            return
        key = self.layout.locate(path)
        if key is None or not stat.S_ISREG(st.st_mode):
            return
        reason = ignore_reason(key[1].split("/"), self.audio_extensions)
        if reason is None:
            self._observe(key, Signature.of(st), now)
        else:
            self._ignored(key, reason)

    def _forget(self, path: str) -> None:
        located = self.layout.locate(path)
        if located is not None:
            self._pending.pop(located, None)

    async def _rescan_periodically(self, stop: asyncio.Event) -> None:
        due = self.clock() + self.rescan_seconds
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, due - self.clock()))
                return
            except TimeoutError:
                pass
            started = self.clock()
            found = await self.rescan()
            log.debug("watcher.scanned", files=found, seconds=round(self.clock() - started, 3))
            due = started + self.rescan_seconds

    async def _release_stable(self, stop: asyncio.Event) -> None:
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                for stable in self.take_stable():
                    self.claims.claim((stable.tenant, stable.rel_path))
                    await self.output.put(stable)
                due = asyncio.ensure_future(self._due.wait_due())
                await asyncio.wait([due, stopped], return_when=asyncio.FIRST_COMPLETED)
                due.cancel()
        finally:
            stopped.cancel()

    def take_stable(self) -> list[StableFile]:
        """Every pending file that kept its signature STABLE_SECONDS, oldest first.

        A file whose signature changed meanwhile is observed again; a file gone, or
        held by a claim, stops being pending (a later scan sees it afresh).
        """
        now = self.clock()
        ready: list[StableFile] = []
        for key, observed in self._due.pop_due():
            if self._pending.get(key) is not observed:
                continue  # forgotten, or superseded by a newer observation with its own entry
            del self._pending[key]
            if key in self.claims:
                continue
            path = self._path_of(key)
            try:
                st = path.lstat()
            except OSError:
                continue
            current = Signature.of(st)
            if not stat.S_ISREG(st.st_mode):
                continue
            if current != observed.signature:
                self._observe(key, current, now)
            else:
                ready.append(StableFile(key[0], key[1], path, current, now))
        ready.sort(key=lambda f: (f.signature.mtime_ns, f.rel_path))
        return ready

    def _path_of(self, key: InboxKey) -> Path:
        tenant, rel_path = key
        base = self.layout.files_dir / tenant if self.layout.multi_tenant else self.layout.files_dir
        return base.joinpath(*rel_path.split("/"))
