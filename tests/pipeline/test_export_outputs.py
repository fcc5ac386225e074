"""Export groups (pure) and a group's transcripts written and audio moved (real folders)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hrec_ingest.fsops import is_temporary
from hrec_ingest.journal import FileRow, FileState
from hrec_ingest.miaop.models import ParagraphDesc
from hrec_ingest.pipeline.layout import Folders
from hrec_ingest.pipeline.outputs import (
    audio_seconds,
    export_groups,
    move_audio,
    write_outputs,
)
from hrec_ingest.pipeline.watcher import InboxLayout


def row(index: int, *, seconds: float | None = 60.0, size: int = 1000) -> FileRow:
    audio = None if seconds is None else {"format": "wav", "durationSeconds": seconds}
    return FileRow(
        id=index,
        tenant="demo",
        rel_path=f"sub/call-{index}.wav",
        size=size,
        mtime_ns=0,
        inode=index,
        sha256="0" * 64,
        audio=audio,
        task_id="t1",
        meeting_index=index,
        state=FileState.EXPORTING,
        out_stem=f"sub/call-{index}",
        dest_kind="archive",
        dest_rel=f"sub/call-{index}.wav",
        error=None,
        taken_at=0.0,
        updated_at=0.0,
    )


def test_a_duration_comes_from_intake_or_else_from_the_size() -> None:
    assert audio_seconds(row(1, seconds=12.5)) == 12.5
    assert audio_seconds(row(1, seconds=None, size=32_000)) == 2.0


def test_groups_close_at_the_file_limit_and_at_the_audio_limit() -> None:
    rows = [row(i, seconds=100) for i in range(25)]
    assert [len(g) for g in export_groups(rows, max_files=10, max_audio_seconds=1e9)] == [10, 10, 5]
    assert [len(g) for g in export_groups(rows, max_files=10, max_audio_seconds=450)] == [4] * 6 + [
        1
    ]
    long_calls = [row(1, seconds=5000), row(2, seconds=10), row(3, seconds=5000)]
    assert [len(g) for g in export_groups(long_calls, max_audio_seconds=1800)] == [1, 1, 1]


@given(
    st.lists(st.floats(min_value=0, max_value=4000), max_size=60),
    st.integers(min_value=1, max_value=12),
    st.floats(min_value=1, max_value=3000),
)
def test_groups_keep_every_file_in_order_within_the_limits(
    lengths: list[float], max_files: int, max_seconds: float
) -> None:
    rows = [row(i, seconds=s) for i, s in enumerate(lengths)]
    groups = export_groups(rows, max_files, max_seconds)
    assert [r.id for g in groups for r in g] == [r.id for r in rows]
    for group in groups:
        assert 1 <= len(group) <= max_files
        if len(group) > 1:
            assert sum(audio_seconds(r) for r in group) <= max_seconds


def folders(tmp_path: Path) -> Folders:
    layout = InboxLayout(tmp_path / "inbox", frozenset({"demo"}), multi_tenant=False)
    return Folders(
        layout, tmp_path / "out", tmp_path / "archive", tmp_path / "failed", ("json", "txt")
    )


PARAGRAPHS = [ParagraphDesc(id="S1", location=0, duration=1500, text="hello there", words=[])]


async def test_a_group_is_written_once_and_a_replay_keeps_what_exists(tmp_path: Path) -> None:
    where = folders(tmp_path)
    exports = [(row(i), PARAGRAPHS, {"n": i}) for i in (1, 2)]
    await write_outputs(where, exports)
    written = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "out").rglob("*.*"))
    assert written == [
        "out/demo/sub/call-1.json",
        "out/demo/sub/call-1.txt",
        "out/demo/sub/call-2.json",
        "out/demo/sub/call-2.txt",
    ]
    assert (tmp_path / "out/demo/sub/call-1.txt").read_text() == "[00:00:00] S1: hello there\n"
    # A replay keeps what an earlier run named, even if it would now render otherwise.
    await write_outputs(where, [(row(i), PARAGRAPHS, {"n": i, "again": True}) for i in (1, 2)])
    assert json.loads((tmp_path / "out/demo/sub/call-1.json").read_bytes()) == {"n": 1}
    assert not [p for p in (tmp_path / "out").rglob("*") if is_temporary(p.name)]


async def test_the_audio_of_a_group_moves_to_the_archive(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox" / "sub"
    inbox.mkdir(parents=True)
    moves = []
    for i in (1, 2):
        (inbox / f"call-{i}.wav").write_bytes(b"RIFF" * i)
        moves.append((inbox / f"call-{i}.wav", tmp_path / "archive" / "demo" / f"call-{i}.wav"))
    await move_audio(moves)
    assert not list(inbox.iterdir())
    assert [dst.read_bytes() for _, dst in moves] == [b"RIFF", b"RIFFRIFF"]
