"""The daemon's garbage-collector settings, and that a stopped daemon gives them back."""

from __future__ import annotations

import gc

from hrec_ingest.runner import (
    GC_YOUNG_THRESHOLD,
    _restore_garbage_collector,
    _settle_garbage_collector,
)


def test_start_up_objects_are_frozen_and_young_collections_rarer_until_the_daemon_stops() -> None:
    before = gc.get_threshold()
    defaults = _settle_garbage_collector()
    try:
        assert defaults == before
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, before[1], before[2])
        assert gc.get_freeze_count() > 0
    finally:
        _restore_garbage_collector(defaults)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
