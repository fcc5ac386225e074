"""Paths and modes of what the daemon writes, whatever the server says.

One deployment talks to a server that puts hostile strings (``../``, absolute
paths, NUL) in every field it can; its outputs must still land only at paths
derived from the inbox path. A second, with UMASK=0077, shows the setting is
honoured. Both check the modes of every file and folder the daemon created.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from aiohttp import web

from e2e.harness import Deployment, make_wav, visible_files, wait_for
from samples.deployments import StartDeployment
from samples.lying_server import Answer, Rule, json_answer

HOSTILE = (
    "../../../../../../etc/passwd",
    "/etc/passwd",
    "a\x00b",
    "..",
    "../" * 12 + "tmp/hrec-evil",
    "C:\\Windows\\evil",
    "~root/.ssh/authorized_keys",
)
# What the daemon must read as the guide says for the protocol to go on at all.
KEPT = frozenset({"access_token", "refresh_token", "token_type", "taskStatus", "status"})
FORMATS = ("json", "txt", "srt", "vtt")
ROUTES = ("token", "hrec", "task", "meeting", "stt")
DROPPED_MODE = 0o604  # not what the daemon would choose, so a chmod by it would show
MANIFEST = re.compile(r"manifest-\d{4}-\d\d-\d\d\.jsonl")


def poisoned(value: Any, hostile: itertools.cycle[str]) -> Any:
    """``value`` with every string (but KEPT fields) hostile, and a hostile key added."""
    if isinstance(value, dict):
        out = {k: v if k in KEPT else poisoned(v, hostile) for k, v in value.items()}
        out[next(hostile)] = next(hostile)
        return out
    if isinstance(value, list):
        return [poisoned(item, hostile) for item in value]
    return next(hostile) if isinstance(value, str) else value


def hostile_rules() -> dict[str, Rule]:
    hostile = itertools.cycle(HOSTILE)

    def lie(answer: Answer) -> web.Response | None:
        if answer.status >= 300:
            return None
        return json_answer(poisoned(answer.json(), hostile), answer.status)

    return {route: lie for route in ROUTES}


def created(d: Deployment) -> list[Path]:
    """Everything below the deployment's output folders (hidden names too)."""
    found = []
    for top in (d.out, d.archive, d.failed, d.state):
        found.append(top)
        found.extend(top.rglob("*"))
    return found


def assert_modes(d: Deployment, file_mode: int, dir_mode: int) -> None:
    """Folders exactly ``dir_mode``; files at most ``file_mode``, transcripts exactly that.

    Audio is moved, not written: it keeps the mode it had in the inbox.
    """
    for path in created(d):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode == dir_mode, f"{path}: {oct(mode)}"
        elif path.suffix == ".wav":
            assert mode == DROPPED_MODE, f"{path}: {oct(mode)}"
        else:
            assert mode & ~file_mode == 0, f"{path}: {oct(mode)}"
            if path.suffix in (".json", ".txt", ".srt", ".vtt"):
                assert mode == file_mode, f"{path}: {oct(mode)}"


def drop(d: Deployment, name: str, seed: int | None) -> None:
    if seed is None:
        (d.inbox / name).write_bytes(b"")
    else:
        make_wav(d.inbox / name, seed=seed)
    (d.inbox / name).chmod(DROPPED_MODE)


async def settled(d: Deployment, archived: int, failed: int) -> None:
    daemon = d.start()
    await wait_for(lambda: len(visible_files(d.archive)) == archived, 40, "files archived")
    await wait_for(lambda: len(visible_files(d.failed)) == 2 * failed, 40, "files failed")
    assert await d.stop(daemon) == 0


async def test_hostile_server_strings_never_shape_a_path(deploy: StartDeployment) -> None:
    d, liar = await deploy(hostile_rules())
    strict, _ = await deploy()
    liar.sim.options.error_files = ("bad.wav",)  # its errorInfo comes back hostile too
    passwd = os.stat("/etc/passwd")
    for deployment in (d, strict):
        drop(deployment, "good.wav", 1)
        drop(deployment, "sub/other.wav", 2)
        drop(deployment, "empty.wav", None)
    drop(d, "bad.wav", 3)
    strict.settings["UMASK"] = "0077"
    await asyncio.gather(settled(d, archived=2, failed=2), settled(strict, archived=2, failed=1))

    assert all(liar.lies[route] for route in ROUTES)
    expected = {f"out/demo/{stem}.{fmt}" for stem in ("good", "sub/other") for fmt in FORMATS} | {
        "archive/demo/good.wav",
        "archive/demo/sub/other.wav",
        "failed/demo/bad.wav",
        "failed/demo/bad.wav.error.json",
        "failed/demo/empty.wav",
        "failed/demo/empty.wav.error.json",
    }
    written = set()
    for path in visible_files(d.root):
        rel = path.relative_to(d.root).as_posix()
        top = rel.split("/", 1)[0]
        if top in ("inbox", "state") or rel in ("config.env", "daemon-0.log"):
            continue
        if MANIFEST.fullmatch(path.name):
            continue
        written.add(rel)
    assert written == expected
    assert {p.name for p in d.root.parent.iterdir()} == {d.root.name, strict.root.name}
    assert not any(part in str(p) for p in created(d) for part in ("passwd", "evil", "\x00"))
    assert not Path("/tmp/hrec-evil").exists()
    after = os.stat("/etc/passwd")
    assert (after.st_mtime_ns, after.st_size) == (passwd.st_mtime_ns, passwd.st_size)

    document = json.loads((d.out / "demo" / "good.json").read_text())
    task_id, meeting = document["task"]["taskId"], document["meeting"]["meetingId"]
    assert re.fullmatch(rf"[1-3]\.{task_id}", meeting)  # the id the daemon asked for

    assert_modes(d, 0o640, 0o750)
    assert_modes(strict, 0o600, 0o700)
