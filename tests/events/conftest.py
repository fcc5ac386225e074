"""Fixtures of the event tests: a real journal on disk and the folder layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from event_samples import make_folders

from hrec_ingest.journal import Journal
from hrec_ingest.pipeline.layout import Folders


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    return make_folders(tmp_path)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A journal in tmp_path/state that records webhook events; closed after the test."""
    state = tmp_path / "state"
    state.mkdir()
    opened = Journal.open(state)
    opened.outbox.enable_webhook(True)
    yield opened
    opened.close()
