"""The pipeline's pure decisions: ignore rules, batching, upload names, poll schedule."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hrec_ingest.pipeline.batcher import Batch, BatchPolicy, ReadyFile, place
from hrec_ingest.pipeline.poller import PollTiming, error_delay, next_poll_delay
from hrec_ingest.pipeline.rules import ignore_reason
from hrec_ingest.pipeline.taskmeta import (
    new_task_id,
    render_task_name,
    task_metadata,
    upload_names,
)
from hrec_ingest.pipeline.watcher import Signature, StableFile

AUDIO = frozenset({"wav", "mp3"})


def test_ignore_rules() -> None:
    assert ignore_reason(["call.wav"], AUDIO) is None
    assert ignore_reason(["sub", "deeper", "CALL.WAV"], AUDIO) is None
    assert ignore_reason([".call.wav"], AUDIO) == "hidden name"
    assert ignore_reason([".sync", "call.wav"], AUDIO) == "hidden name"
    for name in ["a.wav.part", "a.tmp", "a.wav.crdownload", "a.partial", "a.filepart", "a.wav~"]:
        assert ignore_reason([name], AUDIO) == "partial or temporary name", name
    assert ignore_reason(["notes.txt"], AUDIO) == "extension not in AUDIO_EXTENSIONS"
    assert ignore_reason(["noextension"], AUDIO) == "extension not in AUDIO_EXTENSIONS"


def _file(size: int, name: str = "a.wav", tenant: str = "t") -> ReadyFile:
    stable = StableFile(tenant, name, Path(name), Signature(size, 0, 0), 0.0)
    return ReadyFile(stable, "0" * 64, None)


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=60),
    max_files=st.integers(min_value=1, max_value=10),
    max_bytes=st.integers(min_value=100, max_value=400),
)
def test_batches_respect_limits_and_keep_order(
    sizes: list[int], max_files: int, max_bytes: int
) -> None:
    policy = BatchPolicy(max_files, max_bytes, 30.0)
    open_batch: Batch | None = None
    closed: list[Batch] = []
    files = [_file(size, f"{i}.wav") for i, size in enumerate(sizes)]
    for file in files:
        done, open_batch = place(open_batch, file, policy, 0.0, "English")
        closed.extend(done)
    if open_batch is not None:
        closed.append(open_batch)
    assert [f for b in closed for f in b.files] == files  # every file once, in order
    for batch in closed:
        assert 1 <= len(batch.files) <= max_files
        assert batch.size <= max_bytes
    for first, second in zip(closed, closed[1:], strict=False):
        # A batch only closed early because the next file would not fit.
        assert len(first.files) == max_files or first.size + second.files[0].size > max_bytes


def test_batch_closes_exactly_at_max_files() -> None:
    policy = BatchPolicy(2, 10**9, 30.0)
    closed, open_batch = place(None, _file(1), policy, 0.0, "English")
    assert closed == [] and open_batch is not None
    closed, open_batch = place(open_batch, _file(1), policy, 0.0, "English")
    assert len(closed) == 1 and open_batch is None


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=30))
def test_upload_names_unique_and_header_safe(names: list[str]) -> None:
    rel_paths = [f"dir{i % 3}/{n.replace('/', '_')}" for i, n in enumerate(names)]
    result = upload_names(rel_paths)
    assert len(result) == len(set(result)) == len(rel_paths)
    for name in result:
        assert name
        assert not any(ord(c) < 32 or c in '"\\/' for c in name)
    assert upload_names(rel_paths) == result  # a resent task uses the same names


def test_upload_names_keep_plain_names() -> None:
    assert upload_names(["a/call.wav", "b/call.wav", "c.mp3"]) == [
        "call.wav",
        "2-call.wav",
        "c.mp3",
    ]


def test_task_ids_look_like_the_servers() -> None:
    ids = {new_task_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"[a-z0-9]{16}", i) for i in ids)


def test_task_id_characters_are_equally_likely() -> None:
    counts = Counter("".join(new_task_id() for _ in range(2000)))
    # 32,000 characters: 889 of each expected, a standard deviation of about 29.
    assert len(counts) == 36
    assert all(700 < n < 1080 for n in counts.values()), counts


def test_task_name_placeholders() -> None:
    when = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    name = render_task_name(
        "{tenant} {date} {first_file} x{count} {unknown}",
        tenant="demo",
        when=when,
        first_file="a.wav",
        count=3,
    )
    assert name == "demo 2026-11-21 a.wav x3 {unknown}"
    assert render_task_name("broken {", tenant="d", when=when, first_file="", count=1) == "broken {"


def test_task_metadata_matches_the_guide() -> None:
    meta = task_metadata(
        task_id="abc",
        tenant="demo",
        task_name="T",
        language="Hebrew",
        file_names=["1.wav", "2.wav"],
        supervisor_email="s@example.com",
        supervisor_name="",
        generic_additional_info='{"k": "v"}',
        now=datetime(2025, 7, 15, 10, 30, tzinfo=UTC),
    )
    body = meta.model_dump(exclude_none=True)
    assert body["taskType"] == "offline" and body["taskStatus"] == "sttPending"
    assert body["taskCreationTime"] == "15.07.2025 10:30"
    assert body["baseLanguages"] == ["Hebrew"]
    assert body["meetings"][1]["files"] == [{"file": "2.wav", "baseLanguage": "Hebrew"}]
    assert body["supervisor"] == {"name": "", "email": "s@example.com"}
    assert body["genericAdditionalInfo"] == '{"k": "v"}'


TIMING = PollTiming(concurrency=4, initial_delay=5, interval=10, max_interval=300)


def test_poll_waits_remaining_time_when_processing_starts() -> None:
    assert next_poll_delay("sttPending", "sttProcessing", 42, TIMING) == 42
    assert next_poll_delay(None, "sttProcessing", 42, TIMING) == 42
    assert next_poll_delay("sttProcessing", "sttProcessing", 42, TIMING) == 10
    assert next_poll_delay("sttPending", "sttProcessing", 10_000, TIMING) == 300
    assert next_poll_delay("sttPending", "sttProcessing", 0, TIMING) == 10
    assert next_poll_delay("sttPending", "sttPending", None, TIMING) == 10


@given(st.integers(min_value=1, max_value=60), st.floats(min_value=0, max_value=1))
def test_error_delay_bounded(errors: int, r: float) -> None:
    delay = error_delay(errors, TIMING, rand=lambda: r)
    assert TIMING.interval <= delay <= TIMING.max_interval
