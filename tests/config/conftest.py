"""Fixtures shared by the settings tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working folder: relative paths and ./config.env resolve inside it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
