"""OUTPUT_DIR refuses writes while the daemon runs: audio stays, readiness drops, export resumes.

Two ways to refuse: a genuinely full disk (a 2 MB tmpfs mounted on OUTPUT_DIR,
which needs the privilege to mount; skipped with the reason otherwise), and,
anywhere, the tenant's output folder replaced by a regular file (ENOTDIR).
Both are a refused write to the exporter; neither may fail a file.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest

from e2e.harness import Deployment, make_wav, sha256, wait_for
from samples.deployments import StartDeployment

CHUNK = b"\0" * 65536


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def readyz(port: int) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{port}/readyz") as response,
    ):
        body: dict[str, Any] = await response.json()
        return response.status, body


async def metrics_text(port: int) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as r:
        return await r.text()


def fill(path: Path, leave: int = 0) -> None:
    """Write zeros to ``path`` until its file system is full, or only ``leave`` bytes are free."""
    with path.open("wb") as out:
        while True:
            st = os.statvfs(path)
            room = st.f_bavail * st.f_frsize - leave
            if room <= 0:
                return
            try:
                out.write(CHUNK[: min(room, len(CHUNK))])
                out.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return


@contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[None]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0750", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield
    finally:
        # Lazy: the daemon may still hold the folder open until the fixture kills it.
        subprocess.run(["umount", "-l", str(where)], check=True)


class Refusal(Protocol):
    def block(self, d: Deployment) -> None: ...

    def unblock(self, d: Deployment) -> None: ...


class FullDisk:
    """OUTPUT_DIR is a 2 MB tmpfs; fillers use all of it, then go."""

    def block(self, d: Deployment) -> None:
        fill(d.out / "filler-2")

    def unblock(self, d: Deployment) -> None:
        for filler in d.out.glob("filler-*"):
            filler.unlink()


class FolderIsAFile:
    """The tenant's output folder is replaced by a regular file of the same name."""

    def block(self, d: Deployment) -> None:
        (d.out / "demo").rename(d.out / "demo-away")
        (d.out / "demo").write_text("not a folder")

    def unblock(self, d: Deployment) -> None:
        (d.out / "demo").unlink()
        (d.out / "demo-away").rename(d.out / "demo")


async def refused_then_resumed(d: Deployment, refusal: Refusal, port: int) -> None:
    """A first file is exported; writes are refused for a second until ``refusal`` ends."""
    daemon = d.daemons[-1]
    first = make_wav(d.inbox / "first.wav", seed=1)
    await wait_for(lambda: (d.archive / "demo" / "first.wav").exists(), 30, "first archived")
    assert (await readyz(port))[0] == 200

    refusal.block(d)
    second = make_wav(d.inbox / "second.wav", seed=2)
    await wait_for(lambda: bool(daemon.events("export.disk_refused")), 30, "the refusal logged")
    status, body = await readyz(port)
    assert status == 503 and not body["checks"]["disk"]["ok"]
    await wait_for(
        lambda: len(daemon.events("task.export_deferred")) >= 3, 30, "three export attempts"
    )
    assert (d.inbox / "second.wav").read_bytes() == second  # the audio waits in the inbox
    assert not (d.archive / "demo" / "second.wav").exists() and not list(d.failed.rglob("*.wav"))

    refusal.unblock(d)
    await wait_for(lambda: (d.archive / "demo" / "second.wav").exists(), 30, "export resumed")
    assert (d.out / "demo" / "second.json").is_file() and (d.out / "demo" / "first.json").is_file()
    assert (await readyz(port))[0] == 200
    # Attempts went on all along, the error was logged once (the interval is a minute).
    assert len(daemon.events("export.disk_refused")) == 1
    assert len(daemon.events("export.disk_writable")) == 1
    assert d.uploads_of(sha256(first)) == 1 and d.uploads_of(sha256(second)) == 1


async def test_output_folder_replaced_by_a_file_holds_the_audio_until_restored(
    deploy: StartDeployment,
) -> None:
    d, _ = await deploy()
    port = free_port()
    d.settings["METRICS_ADDR"] = f"127.0.0.1:{port}"
    daemon = d.start()
    await refused_then_resumed(d, FolderIsAFile(), port)
    assert await d.stop(daemon) == 0


async def test_full_disk_warns_early_then_holds_the_audio_until_space_returns(
    deploy: StartDeployment,
) -> None:
    d, _ = await deploy()
    port = free_port()
    d.settings["METRICS_ADDR"] = f"127.0.0.1:{port}"
    d.settings["LOW_DISK_WARN_MB"] = "1"
    with small_tmpfs(d.out, "2m"):
        fill(d.out / "filler-1", leave=600_000)  # low (under 1 MB) but room to write
        daemon = d.start()
        await wait_for(lambda: bool(daemon.events("disk.low")), 30, "the low-disk warning")
        (low,) = daemon.events("disk.low")
        assert low["folder"] == "OUTPUT_DIR" and low["path"] == str(d.out)
        assert isinstance(low["free_mb"], int) and low["free_mb"] < 1
        status, body = await readyz(port)
        assert status == 200, body  # low space warns; only refused writes fail readiness
        assert "below LOW_DISK_WARN_MB=1" in body["checks"]["disk_space"]["detail"]
        assert 'hrec_disk_free_bytes{folder="OUTPUT_DIR"}' in await metrics_text(port)

        await refused_then_resumed(d, FullDisk(), port)
        assert len(daemon.events("disk.low")) == 1  # once per interval, not once per check
        assert await d.stop(daemon) == 0
