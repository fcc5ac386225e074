"""``python -m benchmarks.floor``: the least CPU the ``zero`` profile's per-file work can cost here.

The daemon's CPU per file (``benchmarks.run``) includes work no implementation
can skip. This measures that work alone, in this process, with nothing
around it, so that the daemon's figure can be read against it:

- ``http``: the two requests the transcript JSON needs per file
  (``GET /api/meetings/{id}``, ``GET /api/stt/{id}/0``, interface.md §5),
  made with a bare aiohttp session (keep-alive, 16 at once, answer read and
  parsed with ``json.loads``) against the simulator (``zero`` profile) in
  another process. No token handling, retries, validation or metrics.
- ``disk``: what a file leaves behind, durable, with bare system calls: its
  four transcripts (json, txt, srt, vtt, of a 2 s file's sizes) each written
  under a temporary name, fsynced and renamed; the output folder fsynced
  once per 10 files; the audio renamed into the archive and both folders
  fsynced once per 10 files (the daemon's export groups).
- ``disk, daemon's fsops``: the same through ``fsops.atomic_write_many`` and
  ``fsops.move_files``, the functions the daemon uses.
- ``hash``: SHA-256 of the 32 KB audio file (page cache warm).

CPU is this process's user + system time (``time.process_time``). ``disk`` runs in
``--workdir`` (default: a temporary folder in ``/tmp``): the root file
system's cost of creating files is most of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import click

from benchmarks.processes import BENCH_PASSWORD, BENCH_TENANT, BENCH_USER, simulator
from benchmarks.profiles import PROFILES
from benchmarks.report import machine
from benchmarks.workload import wav_bytes
from hrec_ingest.fsops import atomic_write_many, move_files
from hrec_ingest.logs import configure_logging
from hrec_ingest.miaop import MiaopClient, TokenManager, UploadPart
from hrec_ingest.miaop.models import meeting_id
from hrec_ingest.pipeline.taskmeta import new_task_id, task_metadata

RESULTS = Path(__file__).resolve().parent / "results"
# The sizes of a 2 s file's transcripts in the zero profile (json, txt, srt, vtt).
TRANSCRIPT_BYTES = {"json": 1500, "txt": 50, "srt": 72, "vtt": 80}
GROUP = 10
CONCURRENCY = 16


@contextmanager
def measured(result: dict[str, float], key: str, files: int) -> Iterator[None]:
    """Put this block's CPU milliseconds per file into ``result[key]``."""
    started = time.process_time()
    yield
    result[key] = round((time.process_time() - started) * 1000 / files, 3)


async def _finished_meetings(sim_url: str, audio_dir: Path, files: int) -> tuple[list[str], str]:
    """Upload ``files`` audio files as tasks of 20, wait until done; their meeting ids, a token."""
    names = sorted(p.name for p in audio_dir.iterdir())[:files]
    ids: list[str] = []
    async with aiohttp.ClientSession() as session:
        tokens = TokenManager(session, sim_url, BENCH_TENANT, BENCH_USER, BENCH_PASSWORD)
        client = MiaopClient(session, sim_url, tokens)
        for start in range(0, len(names), 20):
            chunk = names[start : start + 20]
            task = task_metadata(
                task_id=new_task_id(),
                tenant=BENCH_TENANT,
                task_name="floor",
                language="English",
                file_names=chunk,
                supervisor_email="bench@example.com",
                supervisor_name="",
                generic_additional_info=None,
                now=datetime.now(UTC),
            )
            parts = [UploadPart(audio_dir / n, n, (audio_dir / n).stat().st_size) for n in chunk]
            task_id = await client.submit_task(task, parts)
            while (await client.get_task(task_id)).taskStatus != "sttDone":
                await asyncio.sleep(0.05)
            ids += [meeting_id(i, task_id) for i in range(1, len(chunk) + 1)]
        token = await tokens.access_token()
    return ids, token


async def _two_gets_per_file(sim_url: str, meetings: list[str], token: str) -> float:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    slots = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession(headers=headers) as session:

        async def get(path: str) -> Any:
            async with slots, session.get(sim_url + path) as response:
                response.raise_for_status()
                return json.loads(await response.read())

        async def one(meeting: str) -> None:
            await get(f"/api/meetings/{meeting}")
            await get(f"/api/stt/{meeting}/0")

        await asyncio.gather(*(one(m) for m in meetings[:50]))  # connections open, warm
        result: dict[str, float] = {}
        with measured(result, "ms", len(meetings)):
            await asyncio.gather(*(one(m) for m in meetings))
    return result["ms"]


def measure_http(audio_dir: Path, files: int, log_path: Path) -> float:
    with simulator(PROFILES["zero"].simulator_flags, log_path) as sim:
        meetings, token = asyncio.run(_finished_meetings(sim.url, audio_dir, files))
        return asyncio.run(_two_gets_per_file(sim.url, meetings, token))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def bare_disk(inbox: Path, out: Path, archive: Path, names: list[str]) -> None:
    bodies = {ext: b"x" * size for ext, size in TRANSCRIPT_BYTES.items()}
    for start in range(0, len(names), GROUP):
        group = names[start : start + GROUP]
        for name in group:
            for ext, body in bodies.items():
                temp = f"{out}/.{name}.{ext}.tmp"
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o640)
                os.write(fd, body)
                os.fsync(fd)
                os.close(fd)
                os.rename(temp, f"{out}/{name}.{ext}")
        _fsync_dir(str(out))
        for name in group:
            os.rename(f"{inbox}/{name}", f"{archive}/{name}")
        _fsync_dir(str(archive))
        _fsync_dir(str(inbox))


def daemon_disk(inbox: Path, out: Path, archive: Path, names: list[str]) -> None:
    bodies = {ext: b"x" * size for ext, size in TRANSCRIPT_BYTES.items()}
    for start in range(0, len(names), GROUP):
        group = names[start : start + GROUP]
        atomic_write_many((out / f"{n}.{ext}", body) for n in group for ext, body in bodies.items())
        move_files([(inbox / n, archive / n) for n in group])


def measure_disk(root: Path, names: list[str], audio: bytes, how: Callable[..., None]) -> float:
    shutil.rmtree(root, ignore_errors=True)
    inbox, out, archive = root / "inbox", root / "out", root / "archive"
    for folder in (inbox, out, archive):
        folder.mkdir(parents=True)
    for name in names:
        (inbox / name).write_bytes(audio)
    os.sync()  # the audio's own writing is not part of the measurement
    result: dict[str, float] = {}
    with measured(result, "ms", len(names)):
        how(inbox, out, archive, names)
    shutil.rmtree(root, ignore_errors=True)
    return result["ms"]


def measure_hash(audio_dir: Path, names: list[str]) -> float:
    result: dict[str, float] = {}
    with measured(result, "ms", len(names)):
        for name in names:
            hashlib.sha256((audio_dir / name).read_bytes()).hexdigest()
    return result["ms"]


@click.command()
@click.option("--files", default=2000, show_default=True, help="Files per measurement.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the disk measurements write (default: a new folder in /tmp).",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def main(files: int, workdir: Path | None, out: Path | None) -> None:
    """Measure the floor of the per-file work and compare it with the 2 ms target."""
    configure_logging("console", "WARNING")
    root = workdir or Path(tempfile.mkdtemp(prefix="hrec-floor-"))
    root.mkdir(parents=True, exist_ok=True)
    audio_dir = root / "audio"
    audio_dir.mkdir(exist_ok=True)
    names = [f"call-{i:06d}.wav" for i in range(files)]
    for index, name in enumerate(names):
        (audio_dir / name).write_bytes(wav_bytes(2.0, f"{index:08d}".encode()))
    audio = (audio_dir / names[0]).read_bytes()
    floors = {
        "http: GET meeting + GET stt": measure_http(audio_dir, files, root / "simulator.log"),
        "disk: 4 transcripts + archive move, durable": measure_disk(
            root / "bare", names, audio, bare_disk
        ),
        "disk, through the daemon's fsops": measure_disk(root / "fsops", names, audio, daemon_disk),
        "hash: SHA-256 of the audio": measure_hash(audio_dir, names),
    }
    total = sum(v for k, v in floors.items() if not k.startswith("disk, through"))
    width = max(map(len, floors))
    print(f"least CPU ms per file, {files} files, disk in {root}:")
    for key, value in floors.items():
        print(f"  {key:<{width}}  {value:7.3f}")
    print(f"  {'floor (http + disk + hash)':<{width}}  {total:7.3f}   target: 2.0")
    report = {
        "files": files,
        "workdir": str(root),
        "cpu_ms_per_file": floors,
        "floor_ms_per_file": round(total, 3),
        "machine": machine(),
    }
    target = out or RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-floor-{files}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(f"results: {target}")
    if workdir is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
