"""What a run left behind: every file delivered once, outputs never partial, the journal sound.

The checks return figures (counts and the names behind them) rather than
asserting, so that a suite records what it measured even when a promise
was broken, and then asserts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from deployments import Site

from e2e.harness import visible_files
from hrec_ingest.journal.store import JOURNAL_NAME

FORMATS = ("json", "txt", "srt", "vtt")
SAMPLE_EVERY_SECONDS = 0.05


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def transcript_problem(path: Path, data: bytes) -> str | None:
    """Why ``data`` is not a complete transcript file of its format, or None if it is."""
    if not data:
        return "empty"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    if path.suffix == ".jsonl":
        return _manifest_problem(text)
    if path.suffix == ".json":
        try:
            document = json.loads(text)
        except ValueError:
            return "unparseable JSON"
        if not isinstance(document, dict) or "source" not in document:
            return "JSON without its source"
    if path.suffix == ".vtt" and not text.startswith("WEBVTT"):
        return "no WEBVTT header"
    if path.suffix == ".srt" and not text.startswith("1\n"):
        return "does not start with cue 1"
    if path.suffix in (".txt", ".srt", ".vtt") and not text.endswith("\n"):
        return "cut short (no final line break)"
    return None


def _manifest_problem(text: str) -> str | None:
    # The daily manifest grows by appended lines: each complete line must parse. The
    # line being appended may be seen unfinished; the manifest writer owns that case.
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        try:
            json.loads(line)
        except ValueError:
            return "manifest line unparseable"
    return None


@dataclass
class OutputWatch:
    """Reads each transcript and archived audio file the moment it becomes visible.

    A file is read again whenever its inode, size or mtime changes, so a file
    rewritten in place is caught too. Archived audio must be byte for byte
    one of the dropped files: a half-made cross-file-system copy is not.
    """

    site: Site
    dropped_sha256: frozenset[str]
    problems: list[str] = field(default_factory=list)
    samples: int = 0
    files_read: int = 0
    _seen: set[tuple[str, int, int, int]] = field(default_factory=set)

    def sample(self) -> None:
        self.samples += 1
        for path in visible_files(self.site.out):
            data = self._read_new(path)
            if data is not None and (problem := transcript_problem(path, data)):
                self.problems.append(f"{problem}: {path}")
        for path in visible_files(self.site.archive):
            data = self._read_new(path)
            if data is not None and _digest(data) not in self.dropped_sha256:
                self.problems.append(f"not one of the dropped files: {path} ({len(data)} bytes)")

    def _read_new(self, path: Path) -> bytes | None:
        try:
            stat = path.stat()
            key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if key in self._seen:
                return None
            data = path.read_bytes()
        except FileNotFoundError:
            return None  # renamed or moved away between listing and reading
        self._seen.add(key)
        self.files_read += 1
        return data

    async def run(self) -> None:
        while True:
            await asyncio.to_thread(self.sample)
            await asyncio.sleep(SAMPLE_EVERY_SECONDS)


@asynccontextmanager
async def watching(site: Site, drops: dict[str, bytes]) -> AsyncIterator[OutputWatch]:
    """Watch the site's outputs for the duration of the block (and once more at its end)."""
    watch = OutputWatch(site, frozenset(_digest(data) for data in drops.values()))
    task = asyncio.create_task(watch.run())
    try:
        yield watch
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        watch.sample()


@dataclass
class Delivery:
    """How the dropped files ended: each should be exported once and sent in one task."""

    files: int
    exported: int = 0
    lost: list[str] = field(default_factory=list)
    sent_twice: list[str] = field(default_factory=list)
    never_sent: list[str] = field(default_factory=list)
    transcript_files: int = 0
    left_in_inbox: int = 0
    failed: int = 0
    temporaries: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, object]:
        return {
            "files": self.files,
            "exported": self.exported,
            "lost": len(self.lost),
            "duplicates": len(self.sent_twice),
            "never_sent": len(self.never_sent),
            "transcript_files": self.transcript_files,
            "left_in_inbox": self.left_in_inbox,
            "failed": self.failed,
            "leftover_temporaries": len(self.temporaries),
        }

    def problems(self) -> list[str]:
        """Every broken promise, by name; empty when all went well."""
        found = [f"lost: {name}" for name in self.lost]
        found += [f"in more than one accepted task: {name}" for name in self.sent_twice]
        found += [f"in no accepted task: {name}" for name in self.never_sent]
        if self.transcript_files != len(FORMATS) * self.files:
            found.append(
                f"{self.transcript_files} transcript files for {self.files} files "
                f"(expected {len(FORMATS)} each, none twice)"
            )
        if self.left_in_inbox:
            found.append(f"{self.left_in_inbox} files left in the inbox")
        if self.failed:
            found.append(f"{self.failed} files in FAILED_DIR")
        found += [f"temporary file left: {name}" for name in self.temporaries]
        return found


def _exported(site: Site, name: str, data: bytes) -> bool:
    stem = name.removesuffix(".wav")
    out = site.out / "demo"
    try:
        document = json.loads((out / f"{stem}.json").read_text())
        archived = (site.archive / "demo" / name).read_bytes()
    except (FileNotFoundError, ValueError):
        return False
    complete = all((out / f"{stem}.{fmt}").is_file() for fmt in FORMATS)
    return complete and document["source"]["sha256"] == _digest(data) and archived == data


def delivery_of(site: Site, drops: dict[str, bytes]) -> Delivery:
    """Compare what was dropped with the output folders and with what the server accepted."""
    delivery = Delivery(files=len(drops))
    for name, data in sorted(drops.items()):
        if _exported(site, name, data):
            delivery.exported += 1
        else:
            delivery.lost.append(name)
        tasks = site.uploads_of(_digest(data))
        if tasks > 1:
            delivery.sent_twice.append(f"{name} ({tasks} tasks)")
        elif tasks == 0:
            delivery.never_sent.append(name)
    delivery.transcript_files = sum(
        1 for path in visible_files(site.out) if path.suffix.removeprefix(".") in FORMATS
    )
    delivery.left_in_inbox = len(visible_files(site.inbox))
    delivery.failed = len(visible_files(site.failed))
    for folder in (site.out, site.archive, site.failed):
        if folder.exists():
            visible = set(visible_files(folder))
            delivery.temporaries += [
                str(p) for p in folder.rglob("*") if p.is_file() and p not in visible
            ]
    return delivery


def journal_problems(state_dir: Path) -> list[str]:
    """What is wrong with a finished run's journal: integrity, states, one row per file."""
    path = state_dir / JOURNAL_NAME
    db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        problems = [
            f"integrity: {row[0]}"
            for row in db.execute("PRAGMA integrity_check").fetchall()
            if row[0] != "ok"
        ]
        files = dict(db.execute("SELECT state, COUNT(*) FROM files GROUP BY state").fetchall())
        tasks = dict(db.execute("SELECT state, COUNT(*) FROM tasks GROUP BY state").fetchall())
        twice = db.execute(
            "SELECT rel_path, COUNT(*) FROM files WHERE state = 'archived'"
            " GROUP BY tenant, rel_path HAVING COUNT(*) > 1"
        ).fetchall()
    finally:
        db.close()
    if not set(files) <= {"archived", "dropped"}:
        problems.append(f"files not settled: {files}")
    if not set(tasks) <= {"exported", "empty", "rejected"}:
        problems.append(f"tasks not settled: {tasks}")
    problems += [f"archived {n} times: {rel}" for rel, n in twice]
    return problems


def journal_bytes(state_dir: Path) -> dict[str, bytes]:
    """The journal's files (main, WAL, shared memory) as they are on disk."""
    return {
        p.name: p.read_bytes() for p in sorted(state_dir.glob(f"{JOURNAL_NAME}*")) if p.is_file()
    }


def file_system_of(path: Path) -> int:
    """The device id of the file system holding ``path`` (or its nearest existing parent)."""
    while not path.exists():
        path = path.parent
    return os.stat(path).st_dev
