"""The ``POST /hrec`` body (guide 2.2): a ``task`` part, one streamed ``soundBlob`` per file.

Files are read from disk in chunks while the socket takes them, so memory
does not grow with file size; each attempt builds a fresh body and re-opens
its files. Small files are the exception: each attempt reads them all before
sending, in one thread hop (:func:`read_small_files`), because a hop per file
cost more CPU than reading the file (docs/benchmarks.md). Their bytes are
bounded by ``PREFETCH_MAX_BYTES`` per attempt.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import Payload
from multidict import CIMultiDict

from hrec_ingest import heldcalls
from hrec_ingest.miaop.errors import LocalFileError
from hrec_ingest.miaop.models import TaskMetadata

CHUNK_BYTES = 1048576
# Files up to this size are read ahead, as long as an attempt's read-ahead stays within
# PREFETCH_MAX_BYTES: a whole default batch of one-minute MP3s, and little memory.
SMALL_FILE_BYTES = 256 * 1024
PREFETCH_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadPart:
    """One audio file of a task: where it is, the name the server sees, and its size in bytes."""

    path: Path
    filename: str
    size: int
    content_type: str = "application/octet-stream"


class Progress:
    """Counts one attempt's file bytes: the running total to the caller, each delta to metrics."""

    def __init__(
        self, on_progress: Callable[[int], None] | None, on_bytes: Callable[[int], None]
    ) -> None:
        self.sent = 0
        self._on_progress = on_progress
        self._on_bytes = on_bytes

    def add(self, n: int) -> None:
        """Record ``n`` more bytes handed on to be sent (up to ``GATHER_BYTES`` ahead of sends)."""
        self.sent += n
        self._on_bytes(n)
        if self._on_progress is not None:
            self._on_progress(self.sent)


class FilePartPayload(Payload):
    """A file streamed in chunks; its declared size is exactly what is sent, or the upload fails."""

    def __init__(
        self,
        part: UploadPart,
        progress: Progress,
        content: bytes | None = None,
    ) -> None:
        super().__init__(part.path, content_type=part.content_type, filename=part.filename)
        self._part = part
        self._content = content  # the whole file, when it was read ahead
        self._size = part.size
        self._progress = progress
        # As browsers do (WHATWG form-data): the name as UTF-8, only '"', CR and LF escaped.
        # aiohttp's default would percent-encode it all, and the server would then see a
        # name that no MeetingDesc holds.
        self.set_content_disposition(
            "form-data",
            quote_fields=False,
            name="soundBlob",
            filename=_browser_escape(part.filename),
        )

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """Not supported: the file is never held in memory."""
        raise TypeError("a streamed file part cannot be decoded into a string")

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        """Same as :meth:`write`: the part's length is fixed by its size."""
        await self.write(writer)

    async def write(self, writer: AbstractStreamWriter) -> None:
        """Copy the file to ``writer`` chunk by chunk, reading off the event loop."""
        part = self._part
        if self._content is not None:
            await self._send(writer, self._content)
            return
        try:
            # Opened and closed on the loop (quick system calls): aiohttp cancels the writer
            # when an answer comes early, and a handle opened in a thread could then be lost.
            handle = _open_checked(part)
        except OSError as exc:
            raise LocalFileError(f"cannot read {part.path}: {exc.strerror or exc}") from None
        # Closing waits for a read still running in its thread (buffered files hold a lock).
        with handle:
            remaining = part.size
            while remaining > 0:
                chunk = await asyncio.to_thread(handle.read, min(CHUNK_BYTES, remaining))
                if not chunk:
                    raise LocalFileError(
                        f"{part.path} shrank while it was being sent "
                        f"({part.size - remaining} of {part.size} bytes)"
                    )
                await self._send(writer, chunk)
                remaining -= len(chunk)

    async def _send(self, writer: AbstractStreamWriter, chunk: bytes) -> None:
        # The write timeout is the body's (UploadBody), around each send to the socket.
        await writer.write(chunk)
        self._progress.add(len(chunk))


def _browser_escape(name: str) -> str:
    return name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def _open_checked(part: UploadPart) -> IO[bytes]:
    handle = open(part.path, "rb")  # noqa: SIM115 - the caller closes it
    size = os.fstat(handle.fileno()).st_size
    if size != part.size:
        handle.close()
        raise LocalFileError(f"{part.path} is {size} bytes, expected {part.size}: it changed")
    return handle


def check_parts(task: TaskMetadata, files: Sequence[UploadPart]) -> None:
    """Refuse a task whose files do not match its meetings, before anything is sent.

    The server pairs the n-th ``soundBlob`` with the n-th meeting by file
    name; a mismatch would produce a task whose meetings point at nothing.
    """
    if not files:
        raise ValueError("a task needs at least one file")
    if len(files) != len(task.meetings):
        raise ValueError(f"{len(files)} files for {len(task.meetings)} meetings")
    for index, (meeting, part) in enumerate(zip(task.meetings, files, strict=True), start=1):
        if len(meeting.files) != 1:
            raise ValueError(f"meeting {index} has {len(meeting.files)} files; the guide wants 1")
        described = meeting.files[0]
        if described.file != part.filename:
            raise ValueError(
                f"meeting {index} names {described.file!r} but its file is sent as "
                f"{part.filename!r}"
            )
        if described.baseLanguage not in task.baseLanguages:
            raise ValueError(
                f"meeting {index} language {described.baseLanguage!r} is not in baseLanguages"
            )
        if part.size < 0:
            raise ValueError(f"{part.path}: negative size {part.size}")


def _check_size(part: UploadPart) -> None:
    try:
        size = part.path.stat().st_size
    except OSError as exc:
        raise LocalFileError(f"cannot read {part.path}: {exc.strerror or exc}") from None
    if size != part.size:
        raise LocalFileError(f"{part.path} is {size} bytes, expected {part.size}: it changed")


def read_small_files(files: Sequence[UploadPart]) -> list[bytes | None]:
    """The content of each small file (None for those streamed), every file's size checked.

    A file that is gone or changed size raises LocalFileError, before any
    request is made. Small means at most ``SMALL_FILE_BYTES``, while the total read stays
    within ``PREFETCH_MAX_BYTES``. Blocking: call it through ``asyncio.to_thread``.
    """
    contents: list[bytes | None] = []
    budget = PREFETCH_MAX_BYTES
    for part in files:
        if part.size > SMALL_FILE_BYTES or part.size > budget:
            _check_size(part)
            contents.append(None)
            continue
        try:
            data = _read_whole(part)
        except OSError as exc:
            raise LocalFileError(f"cannot read {part.path}: {exc.strerror or exc}") from None
        if len(data) != part.size:
            raise LocalFileError(
                f"{part.path} is {len(data)} bytes, expected {part.size}: it changed"
            )
        budget -= part.size
        contents.append(data)
    return contents


def _read_whole(part: UploadPart) -> bytes:
    """A small file's bytes, its size checked as ``_check_size`` does, and one byte more asked
    for: a file that grew since it was measured comes back too long.

    Through a bare descriptor: ``open()`` adds three system calls (isatty, seek, a second
    fstat) that cost more than the read, and the open and close keep the GIL (heldcalls).
    """
    fd = heldcalls.open_fd(part.path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        if size != part.size:
            raise LocalFileError(f"{part.path} is {size} bytes, expected {part.size}: it changed")
        chunks: list[bytes] = []
        wanted = part.size + 1
        while wanted > 0 and (chunk := os.read(fd, wanted)):
            chunks.append(chunk)
            wanted -= len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        heldcalls.close(fd)


def task_json(task: TaskMetadata) -> str:
    """The ``task`` form field: the TaskMetadata JSON without unset (None) fields."""
    return task.model_dump_json(exclude_none=True)


def build_body(
    task: TaskMetadata,
    files: Sequence[UploadPart],
    progress: Progress,
    *,
    write_timeout: float | None,
    contents: Sequence[bytes | None] | None = None,
) -> UploadBody:
    """A fresh multipart body for one attempt; all sizes are known, so Content-Length is set.

    ``contents[i]``, when given and not None, is ``files[i]`` already read.
    """
    body = UploadBody(write_timeout)
    task_part = body.append(task_json(task), {"Content-Type": "application/json"})
    task_part.set_content_disposition("form-data", name="task")
    read = [None] * len(files) if contents is None else contents
    for part, content in zip(files, read, strict=True):
        body.append_payload(FilePartPayload(part, progress, content))
    return body


# Bytes of the body gathered before they go to the socket. aiohttp's multipart writer
# writes each part's boundary, headers, content and line end apart, and each write is a
# send() of its own while the socket keeps up: four system calls per small file.
GATHER_BYTES = 64 * 1024


class UploadBody(aiohttp.MultipartWriter):
    """The ``multipart/form-data`` body, its small writes gathered into sends of ``GATHER_BYTES``.

    The bytes on the wire are aiohttp's own; only how many ``send()`` calls
    carry them changes. A write of ``GATHER_BYTES`` or more (a streamed
    file's chunk) goes straight through, after what was gathered before it.
    """

    def __init__(self, write_timeout: float | None) -> None:
        super().__init__("form-data")
        self._write_timeout = write_timeout

    async def write(self, writer: AbstractStreamWriter, close_boundary: bool = True) -> None:
        gathering = _Gathering(writer, self._write_timeout)
        await super().write(gathering, close_boundary)
        await gathering.flush()


class _Gathering(AbstractStreamWriter):
    """Holds small writes until ``GATHER_BYTES`` are there; only what a multipart body uses."""

    def __init__(self, writer: AbstractStreamWriter, write_timeout: float | None) -> None:
        self._writer = writer
        self._write_timeout = write_timeout
        self._held: list[bytes | bytearray | memoryview] = []
        self._held_bytes = 0

    async def write(self, chunk: bytes | bytearray | memoryview) -> None:
        size = memoryview(chunk).nbytes
        if size >= GATHER_BYTES:
            await self.flush()
            await self._send(chunk)
            return
        self._held.append(chunk)
        self._held_bytes += size
        if self._held_bytes >= GATHER_BYTES:
            await self.flush()

    async def flush(self) -> None:
        """Send what is held."""
        if self._held:
            held = b"".join(self._held)
            self._held.clear()
            self._held_bytes = 0
            await self._send(held)

    async def _send(self, chunk: bytes | bytearray | memoryview) -> None:
        # aiohttp has no write timeout: a peer that stops reading would stall us forever.
        async with asyncio.timeout(self._write_timeout):
            await self._writer.write(chunk)

    async def drain(self) -> None:
        await self.flush()
        await self._writer.drain()

    async def write_eof(self, chunk: bytes = b"") -> None:
        raise NotImplementedError("a multipart body does not end the stream")

    def enable_compression(self, encoding: str = "deflate", strategy: int | None = None) -> None:
        raise NotImplementedError("the upload is sent uncompressed")

    def enable_chunking(self) -> None:
        raise NotImplementedError("the upload's length is known")

    async def write_headers(self, status_line: str, headers: CIMultiDict[str]) -> None:
        raise NotImplementedError("a body writes no HTTP headers")


def upload_timeout(session: aiohttp.ClientSession) -> aiohttp.ClientTimeout:
    """The session's timeouts per connect and per read, without a total: big files take long."""
    base = session.timeout
    return aiohttp.ClientTimeout(
        total=None, connect=None, sock_connect=base.sock_connect, sock_read=base.sock_read
    )


def payload_summary(files: Sequence[UploadPart]) -> dict[str, Any]:
    """Log fields for an upload: how many files and bytes."""
    return {"files": len(files), "bytes": sum(part.size for part in files)}
