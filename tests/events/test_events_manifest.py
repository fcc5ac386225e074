"""The daily manifest: one line per file, exactly once, even across crashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from event_samples import live_task

from hrec_ingest.events.documents import encode, manifest_record
from hrec_ingest.events.manifest import BATCH, ManifestWriter, append_once, manifest_path
from hrec_ingest.journal import Journal
from hrec_ingest.metrics import Metrics
from hrec_ingest.pipeline.layout import Folders

pytestmark = pytest.mark.timeout(30)


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def manifests(folders: Folders) -> list[Path]:
    return sorted((folders.output_dir / "demo").glob("manifest-*.jsonl"))


def test_path_is_per_tenant_and_utc_day(tmp_path: Path) -> None:
    assert manifest_path(tmp_path, "demo", 1795305599.9) == (
        tmp_path / "demo" / "manifest-2026-11-21.jsonl"
    )
    assert manifest_path(tmp_path, "demo", 1795305600.0).name == "manifest-2026-11-22.jsonl"


def test_append_skips_ids_already_written(tmp_path: Path) -> None:
    path = tmp_path / "out" / "demo" / "manifest.jsonl"
    assert append_once(path, [("a", b'{"id":"a"}'), ("b", b'{"id":"b"}')]) == 2
    assert append_once(path, [("b", b'{"id":"b"}'), ("c", b'{"id":"c"}')]) == 1
    assert [r["id"] for r in lines_of(path)] == ["a", "b", "c"]


def test_a_replayed_batch_is_skipped_behind_many_earlier_lines(tmp_path: Path) -> None:
    # Only the last batch can be unmarked; the lines before it are not parsed again.
    path = tmp_path / "m.jsonl"
    earlier = [(f"e{i}", f'{{"id":"e{i}"}}'.encode()) for i in range(5 * BATCH)]
    append_once(path, earlier)
    batch = [(f"b{i}", f'{{"id":"b{i}","file":"{"x" * 200}"}}'.encode()) for i in range(BATCH)]
    assert append_once(path, batch) == BATCH

    assert append_once(path, batch) == 0
    assert len(path.read_bytes().splitlines()) == 6 * BATCH


def test_append_cuts_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b'{"id":"a"}\n{"id":"b","fi')  # power cut in the middle of a write
    assert append_once(path, [("b", b'{"id":"b","file":"x"}')]) == 1
    assert path.read_bytes() == b'{"id":"a"}\n{"id":"b","file":"x"}\n'


def test_append_to_a_file_that_is_only_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(b'{"id":"a","fi')
    assert append_once(path, [("a", b'{"id":"a"}')]) == 1
    assert path.read_bytes() == b'{"id":"a"}\n'


async def test_one_line_per_file_with_its_outcome(journal: Journal, folders: Folders) -> None:
    metrics = Metrics()
    writer = ManifestWriter(journal.outbox, folders, metrics=metrics)
    live_task(journal, "T1", {"a.wav": "exported", "sub/b.wav": "failed"})
    assert await writer.write_due() == 2
    (path,) = manifests(folders)
    good, bad = lines_of(path)
    assert (good["file"], good["outcome"], good["meetingId"]) == ("a.wav", "exported", "1.T1")
    assert good["outputs"][0] == "demo/a.json" and good["archived"] == "demo/a.wav"
    assert (bad["file"], bad["outcome"], bad["error"]) == ("sub/b.wav", "failed", "SttError")
    assert bad["failed"] == "demo/sub/b.wav"
    assert await writer.write_due() == 0  # nothing more due
    assert journal.outbox.depth()["manifest"] == 0
    sample = metrics.registry.get_sample_value
    assert sample("hrec_files_processed_total", {"tenant": "demo", "outcome": "exported"}) == 1
    assert sample("hrec_files_processed_total", {"tenant": "demo", "outcome": "failed"}) == 1


async def test_crash_after_writing_before_marking_writes_no_line_twice(
    tmp_path: Path, journal: Journal, folders: Folders
) -> None:
    live_task(journal, "T1", {"a.wav": "exported", "b.wav": "exported"})
    # What write_due does up to its crash point: the lines are durable, the journal not told.
    for event in journal.outbox.manifest_due(100):
        path = manifest_path(folders.output_dir, event.tenant, event.at)
        append_once(path, [(event.event_id, encode(manifest_record(event, folders)))])
    journal.close()

    reopened = Journal.open(tmp_path / "state")
    try:
        live_task(reopened, "T2", {"c.wav": "failed"})
        restarted = ManifestWriter(reopened.outbox, folders)
        assert await restarted.write_due() == 3
    finally:
        reopened.close()
    lines = [line for path in manifests(folders) for line in lines_of(path)]
    assert sorted(r["file"] for r in lines) == ["a.wav", "b.wav", "c.wav"]
    assert len({r["id"] for r in lines}) == 3


async def test_written_without_a_webhook(journal: Journal, folders: Folders) -> None:
    journal.outbox.enable_webhook(False)
    live_task(journal, "T1", {"a.wav": "exported"})
    assert await ManifestWriter(journal.outbox, folders).write_due() == 1
    assert len(lines_of(manifests(folders)[0])) == 1
    assert journal.outbox.depth() == {"manifest": 0, "webhook": 0}
