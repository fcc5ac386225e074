"""Fixtures of the command tests (the helpers are in command_site.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from command_site import Site, make_site


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Site:
    # The commands read HREC_* and ./config.env: neither may come from outside the test.
    for key in list(os.environ):
        if key.startswith("HREC_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return make_site(tmp_path)
